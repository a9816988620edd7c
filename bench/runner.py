"""One workload, every peer side by side: checks, timings, first calls, memory, plot, docs.

A workload module (``bench/rosenbrock.py``, ``bench/ode.py``, ...) describes itself
with a :class:`Workload`: the user function that srcgrad differentiates (and Numba
compiles as the forward), how to make its arguments at each size, and its other
peers, built with the helpers here (:func:`hand_peer`, :func:`jax_peer`,
:func:`torch_peer`, :func:`autograd_peer`, :func:`tangent_peer`).  Its
``main(argv)`` is ``runner.main_for(WORKLOAD, argv)``; ``python -m bench`` runs
them all.

What a run does, per size (smallest first):

1. builds every peer once (``jax.jit``, ``tangent.grad``, ``srcgrad.value_and_grad``);
   a peer whose library is not installed, or that cannot express the workload, is
   reported as *unavailable* with the reason, never dropped;
2. calls each peer once (compile/warm-up) and checks it: its value against the
   Numba forward, its gradient against 4th-order central finite differences of the
   forward along random unit directions, and against the reference peer (the
   hand-written adjoint where there is one) component by component
   (``common.check_close_scaled``).  A peer that disagrees or raises is *failed*
   with the reason and is not timed (at this size or any later one); if no peer
   agrees with the finite differences the workload itself is broken and the run
   stops with exit code 2;
3. times the forward and all checked gradients, interleaved
   (``common.time_interleaved``): median, quartiles, IQR; a Python-taping peer
   (PyTorch, autograd, tangent) whose checked call lasted ``SLOW_CALL_SAMPLES``
   minimum samples or more is timed one call per sample after the others (its
   checked call was its warm-up; calibrating it would only repeat slow calls);
4. predicts the time of each peer but the forward, srcgrad and the hand-written
   adjoint at the next size, as a power of the workload's ``work`` fitted to the two
   largest sizes it ran; one predicted to need more than ``call_limit_s`` for one
   call is not run there: it is reported as *too slow at this size*, with that
   extrapolated time, marked as such.

Quick and tiny runs (``MODE_DEFAULTS``) take fewer samples, draw no plot (``--plot``
draws it), and keep compiled code between runs: Numba's disk cache for the forward
and the hand-written adjoint, JAX's persistent compilation cache in
:func:`compile_cache_dir`; with warm caches a quick run spends its time on checks
and timing, not compiles.  The full run keeps neither, so its fresh-process first
calls measure real compiles.

A workload whose GradBench output takes many gradients (``particle`` and ``saddle``: an
argmin by gradient descent) has an ``eval_output`` hook: after the sizes, the eval is
solved with every peer that passed the checks, and the outputs must agree
(``bench.nested.eval_outputs``; a disagreement is a hard failure).

Then, at the main size, in fresh processes (``python -m bench.runner child ...``):
first-call latency of every peer (build + first call at the smallest size:
transform + compile + one run), srcgrad with an empty and then with the same, now
warm, ``SRCGRAD_CACHE_DIR`` (the second is the start-up of a second process), and
the extra peak resident memory of one gradient call at the main size
(``common.peak_rss_of_call``).  srcgrad's tape bytes come from
``GradFunction.tape_bytes``.

Output: ``<out_dir>/<name>.json`` (``<name>_quick.json`` with ``--quick``) with the
machine description, a log-log plot ``.png``, a table on stdout, and
:func:`markdown_section` for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench import common

MODES = ("full", "quick", "tiny")

# Per-mode defaults: timing samples, minimum sample duration, longest single call a
# peer may need before it is called "too slow at this size", seconds of samples per peer,
# fresh-process measurements, the fewest samples a slow peer gets, whether to draw the plot,
# and whether to keep compiled code between runs (Numba's disk cache for the forward and the
# hand-written adjoint, JAX's persistent compilation cache).  The full run leaves compile
# caches alone, so that its fresh-process first calls measure compiles.
MODE_DEFAULTS = {
    "full": {"repeats": 30, "min_sample_s": 5e-3, "call_limit_s": 3.0, "peer_seconds": 6.0, "subprocess": True,
             "min_repeats": 3, "plot": True, "cache_compiles": False},
    "quick": {"repeats": 5, "min_sample_s": 1e-3, "call_limit_s": 0.2, "peer_seconds": 0.3, "subprocess": False,
              "min_repeats": 2, "plot": False, "cache_compiles": True},
    "tiny": {"repeats": 3, "min_sample_s": 2e-4, "call_limit_s": 0.2, "peer_seconds": 0.1, "subprocess": False,
             "min_repeats": 2, "plot": False, "cache_compiles": True},
}

FAMILY_ORDER = ("numba", "hand", "srcgrad", "jax", "torch", "autograd", "tangent")
SLOW_FAMILIES = ("torch", "autograd", "tangent")  # Python-taping peers
# Peers that are not run at a size where one call is predicted to exceed the limit (their time is
# extrapolated instead): every one but the Numba forward, srcgrad and the hand-written adjoint (JAX too:
# a JAX peer without jit runs Python per operation).
NEVER_SKIPPED = ("numba", "srcgrad", "hand")
# A Python-taping peer whose checked call took this many minimum sample durations is timed one call per
# sample, that checked call serving as its warm-up (no calibration calls).
SLOW_CALL_SAMPLES = 50


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
    try:
        if lib == "jax":
            import jax
            jax.config.update("jax_enable_x64", True)
            mod = jax
        elif lib == "torch":
            import torch
            mod = torch
        elif lib == "autograd":
            import autograd
            mod = autograd
        elif lib == "tangent":
            import tangent
            mod = tangent
        else:
            raise ValueError(lib)
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
    """One way to compute the workload's value and gradient.

    ``make()`` builds the callable once (it may raise :class:`Unavailable`);
    ``convert(args)`` turns the NumPy arguments of a size into what it takes;
    ``result(out)`` turns its output into ``(value or None, tuple of gradient arrays)``, or
    ``(value, gradients, extras)`` for a workload with ``extra_outputs`` (``extras`` maps each
    of those names to an array: a Hessian diagonal, a Newton direction, ...).
    """

    name: str
    label: str
    family: str
    make: Callable[[], Callable]
    convert: Callable[[tuple], tuple] = tuple
    result: Callable[[Any], tuple] = None  # type: ignore[assignment]
    kind: str = "grad"
    max_size: Any = None  # sizes past this one are not run (a fixed cap, with the reason in cap_reason)
    cap_reason: str = ""
    note: str = ""


def _as_grads(gs) -> tuple:
    if not isinstance(gs, (tuple, list)):
        gs = (gs,)
    return tuple(np.asarray(g, dtype=float) for g in gs)


def hand_peer(fn, label: str = "hand-written Numba adjoint", name: str = "hand", note: str = "") -> Peer:
    """A Numba function returning ``(value, grad_0, grad_1, ...)`` for the workload's ``wrt``."""
    return Peer(name, label, "hand", make=lambda: fn,
                result=lambda out: (float(out[0]), _as_grads(tuple(out[1:]))), note=note)


def unavailable_peer(name: str, family: str, reason: str, label: str | None = None) -> Peer:
    """A peer that cannot run this workload, kept in the tables with ``reason``."""
    def make():
        raise Unavailable(reason)
    return Peer(name, label or name, family, make=make)


def jax_peer(fn, wrt: Sequence[int], label: str, name: str = "jax", static_argnums: Sequence[int] = (),
             note: str = "", max_size=None, cap_reason: str = "", jit: bool = True) -> Peer:
    """``jax.jit(jax.value_and_grad(fn, argnums=wrt))`` (float64); arrays passed as device arrays."""
    wrt = tuple(wrt)

    def make():
        jax = load("jax")
        vg = jax.value_and_grad(fn, argnums=wrt)
        f = jax.jit(vg, static_argnums=tuple(static_argnums)) if jit else vg
        return common.blocking(f)

    def convert(args):
        jnp = load("jax").numpy
        return tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)

    return Peer(name, label, "jax", make=make, convert=convert,
                result=lambda out: (float(out[0]), _as_grads(out[1])), note=note, max_size=max_size,
                cap_reason=cap_reason)


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

    return Peer(name, label, "autograd", make=make, result=lambda out: (float(out[0]), _as_grads(out[1])),
                note=note, max_size=max_size, cap_reason=cap_reason)


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
                 name: str = "srcgrad") -> Peer:
    wrt = tuple(wrt)

    def make():
        import srcgrad
        return srcgrad.value_and_grad(fn, wrt=wrt)

    return Peer(name, label, "srcgrad", make=make, result=lambda out: (float(out[0]), _as_grads(out[1])))


def numba_forward_peer(fn) -> Peer:
    def make():
        import numba
        return numba.njit(fn)
    return Peer("numba_fwd", "numba.njit of the user function (value only)", "numba", make=make,
                result=lambda out: (float(out), ()), kind="forward")


# --------------------------------------------------------------------------
# workloads
# --------------------------------------------------------------------------

@dataclasses.dataclass
class Workload:
    """A benchmark: the user function, its sizes and its peers (see the module docstring)."""

    name: str
    title: str
    module: str
    fn: Callable
    wrt: tuple
    wrt_names: tuple
    args: Callable[[Any], tuple]
    sizes: dict
    main_size: dict
    peers: list
    description: str
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
    forward: Callable | None = None  # default numba.njit(fn)
    extra_check: Callable | None = None  # (size, args, value, grads) -> max error; raises common.CheckFailed
    hand_tape_bytes: Callable | None = None  # size -> bytes the hand adjoint stores
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

    def all_peers(self) -> list:
        fwd = numba_forward_peer(self.fn) if self.forward is None else Peer(
            "numba_fwd", "numba.njit of the user function (value only)", "numba", make=lambda: self.forward,
            result=lambda out: (float(out), ()), kind="forward")
        return [fwd, self.srcgrad or srcgrad_peer(self.fn, self.wrt)] + list(self.peers)


def _size_key(size) -> str:
    return json.dumps(list(size) if isinstance(size, (tuple, list)) else size)


def _size_from_json(v):
    return tuple(v) if isinstance(v, list) else v


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


def run_workload(w: Workload, mode: str = "quick", repeats: int | None = None, out_dir=None,
                 subprocess_measurements: bool | None = None, plot: bool | None = None, log=None,
                 sizes: Sequence | None = None, skip_peers: Sequence[str] = (), only_peers: Sequence[str] = (),
                 call_limit_s: float | None = None) -> dict:
    """Run one workload in ``mode`` ("full", "quick", "tiny"); write JSON (+ PNG); return the result dict."""
    defaults = dict(MODE_DEFAULTS[mode])
    defaults.update((w.timing or {}).get(mode, {}))
    repeats = repeats or defaults["repeats"]
    plot = defaults["plot"] if plot is None else plot
    if defaults["cache_compiles"]:
        enable_jax_compilation_cache()
    call_limit = call_limit_s or defaults["call_limit_s"]
    do_sub = defaults["subprocess"] if subprocess_measurements is None else subprocess_measurements
    sizes = list(sizes) if sizes else list(w.sizes[mode])
    main_size = w.main_size[mode] if w.main_size[mode] in sizes else sizes[-1]
    out_dir = common.RESULTS_DIR if out_dir is None else out_dir
    stem = os.path.join(str(out_dir), w.name + ("" if mode == "full" else f"_{mode}"))
    t_begin = time.perf_counter()
    machine = common.machine_info(("numpy", "numba", "llvmlite", "scipy", "srcgrad"))
    machine["versions"].update(library_versions())

    def say(msg):
        line = f"[{w.name} {time.perf_counter() - t_begin:6.1f}s] {msg}"
        (log or (lambda m: print(m, file=sys.stderr, flush=True)))(line)

    notes = list(w.notes)
    torch_threads = _torch_one_thread()
    try:
        return _run_workload(w, mode, defaults, repeats, call_limit, do_sub, sizes, main_size, stem, plot, say,
                             t_begin, machine, notes, skip_peers, only_peers)
    finally:
        if torch_threads is not None:
            load("torch").set_num_threads(torch_threads)


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


def _run_workload(w, mode, defaults, repeats, call_limit, do_sub, sizes, main_size, stem, plot, say, t_begin,
                  machine, notes, skip_peers, only_peers) -> dict:

    states = {p.name: _PeerState(p) for p in w.all_peers()
              if (not only_peers or p.name in only_peers or p.name == "numba_fwd") and p.name not in skip_peers}
    fwd_state = states["numba_fwd"]
    hard: list[str] = []
    records: list[dict] = []

    # ---- build -----------------------------------------------------------------------
    for st in states.values():
        t0 = time.perf_counter()
        try:
            st.fn = st.peer.make()
            st.make_s = time.perf_counter() - t0
            if defaults["cache_compiles"] and st.peer.family in ("numba", "hand"):
                _enable_numba_cache(st.fn)
        except Unavailable as exc:
            st.status = f"unavailable: {exc}"
        except Exception as exc:  # noqa: BLE001
            st.status = f"failed: could not build: {common.describe_exception(exc)}"
        if not st.alive:
            say(f"{st.peer.name}: {st.status}")
    made = sorted(((st.make_s or 0.0, n) for n, st in states.items()), reverse=True)[:3]
    say(f"built the peers in {time.perf_counter() - t_begin:.1f} s since the start (slowest: "
        + ", ".join(f"{n} {common.fmt_time(t)}" for t, n in made) + ")")
    if not fwd_state.alive:
        hard.append(f"Numba forward: {fwd_state.status}")

    # ---- sizes -----------------------------------------------------------------------
    for si, size in enumerate(sizes):
        if hard:
            break
        label = w.size_label(size)
        say(f"size {si + 1}/{len(sizes)} {label}: building arguments, checking ...")
        t_size = time.perf_counter()
        args = w.args(size)
        rec: dict = {"size": size, "label": label, "work": w.work(size), "peers": {}, "max_err": {},
                     "check_call_s": {}}
        records.append(rec)

        # forward value and finite differences
        try:
            t0 = time.perf_counter()
            value = float(fwd_state.fn(*args))
            if fwd_state.first_call_s is None:
                fwd_state.first_call_s = time.perf_counter() - t0
            fwd_state.status = "ok"
        except Exception as exc:  # noqa: BLE001
            hard.append(f"{label}: Numba forward raised {common.describe_exception(exc)}")
            break
        rec["value"] = value
        rng = np.random.default_rng(1234 + si)
        directions = [_random_direction(args, w.wrt, rng) for _ in range(w.fd_directions)]
        step = w.fd_step
        if w.fd_relative:
            step *= max(float(np.max(np.abs(args[i]))) for i in w.wrt)
        fds = [common.fd4_directional(fwd_state.fn, args, d, step) for d in directions]
        fds2 = [common.fd4_directional(fwd_state.fn, args, d, 2 * step) for d in directions]
        # How far the differences themselves can be trusted: rounding in f alone moves them by about
        # eps |f| / step, more where f sums many terms; the two steps' disagreement measures both that
        # and the truncation error.
        fd_noise = [max(30.0 * np.finfo(float).eps * abs(value) / step, 4.0 * abs(a - b)) for a, b in zip(fds, fds2)]
        rec["fd_directional"] = fds
        rec["fd_noise"] = fd_noise

        results: dict[str, tuple] = {}
        for name, st in states.items():
            if name == "numba_fwd" or not st.alive:
                rec["peers"][name] = {"status": st.status} if name != "numba_fwd" else {}
                continue
            peer = st.peer
            if peer.max_size is not None and w.work(size) > w.work(peer.max_size):
                rec["peers"][name] = {"status": f"not run: {peer.cap_reason or 'capped'}"}
                continue
            if st.history and peer.family not in NEVER_SKIPPED:
                predicted = _predict(st.history, w.work(size))
                if predicted > call_limit:
                    rec["peers"][name] = {"status": "too slow at this size", "extrapolated_s": predicted,
                                          "extrapolated_from": st.last_size,
                                          "extrapolation_exponent": _exponent(st.history)}
                    say(f"{name}: too slow at {label} (one call predicted {common.fmt_time(predicted)} "
                        f"> limit {common.fmt_time(call_limit)}); extrapolated")
                    continue
            fargs = peer.convert(args)
            try:
                t0 = time.perf_counter()
                out = st.fn(*fargs)
                dt = time.perf_counter() - t0
                if st.first_call_s is None:
                    st.first_call_s = dt
                rec["check_call_s"][name] = dt  # where a run's time goes (compiles happen here)
                val, grads, *rest = peer.result(out)
                extras = rest[0] if rest else {}
            except Exception as exc:  # noqa: BLE001
                st.status = f"failed: {label}: raised {common.describe_exception(exc)}"
                rec["peers"][name] = {"status": st.status}
                say(f"{name}: {st.status}")
                continue
            st.last_size = size
            # the time of this (possibly first, compiling) call stands in until the timing below
            # replaces it with the median; a peer that fails its checks is not run again
            st.history.append((w.work(size), dt))
            results[name] = (val, grads, fargs, extras)

        # checks: every gradient against the finite differences, then against the reference
        fd_ok: dict[str, float] = {}
        problems: dict[str, str] = {}
        for name, (val, grads, _, extras) in results.items():
            try:
                if len(grads) != len(w.wrt):
                    raise common.CheckFailed(f"{len(grads)} gradients, want {len(w.wrt)}")
                for g, i, nm in zip(grads, w.wrt, w.wrt_names):
                    if np.shape(g) != np.shape(args[i]):
                        raise common.CheckFailed(f"d/d{nm} has shape {np.shape(g)}, want {np.shape(args[i])}")
                missing = [k for k in w.extra_outputs if k not in extras]
                if missing:
                    raise common.CheckFailed(f"no {', '.join(missing)} in the output")
                if val is not None:
                    rec["max_err"][f"{name}_value"] = common.check_close(
                        f"{label}: {name} value vs Numba forward", val, value, w.rtol_value)
                fd_ok[name] = _check_fd(f"{label}: {name} directional derivatives vs fd4",
                                        [_dot(grads, w.wrt, d) for d in directions], fds, w.rtol_fd, fd_noise)
                rec["max_err"][f"{name}_vs_fd4"] = fd_ok[name]
                if w.peer_check is not None:
                    rec["max_err"][f"{name}_own_check"] = w.peer_check(size, args, val, grads, extras)
            except common.CheckFailed as exc:
                fd_ok.pop(name, None)
                problems[name] = "wrong answer: " + str(exc).replace("\n", " | ")[:700]
        ref = next((r for r in w.reference if r in fd_ok), None)
        if ref is None and results:
            hard.append(f"{label}: no peer agrees with the finite differences: "
                        + "; ".join(f"{k}: {v}" for k, v in problems.items()))
        rec["reference"] = ref
        if ref is not None:
            ref_grads = results[ref][1]
            if w.extra_check is not None:
                try:
                    rec["max_err"][f"{ref}_extra_check"] = w.extra_check(size, args, results[ref][0], ref_grads)
                except common.CheckFailed as exc:
                    hard.append(f"{label}: reference {ref} fails the workload's own check: {exc}")
            ref_extras = results[ref][3]
            for name, (val, grads, _, extras) in results.items():
                if name == ref or name in problems:
                    continue
                try:
                    errs = [common.check_close_scaled(f"{label}: {name} d/d{nm} vs {ref}", g, gr, w.rtol_peers,
                                                      w.floor_rel)
                            for g, gr, nm in zip(grads, ref_grads, w.wrt_names)]
                    errs += [common.check_close_scaled(f"{label}: {name} {k} vs {ref}", np.asarray(extras[k], float),
                                                       np.asarray(ref_extras[k], float), w.rtol_peers, w.floor_rel)
                             for k in w.extra_outputs]
                    rec["max_err"][f"{name}_vs_{ref}"] = max(errs) if errs else 0.0
                except common.CheckFailed as exc:
                    problems[name] = "wrong answer: " + str(exc).replace("\n", " | ")[:700]
        for name, why in problems.items():
            states[name].status = f"failed: {why}"
            rec["peers"][name] = {"status": states[name].status}
            say(f"{name}: FAILED at {label}: {why[:300]}")
            results.pop(name)
        if hard:
            break

        # tape bytes
        sg = states.get("srcgrad")
        if sg is not None and "srcgrad" in results:
            try:
                rec["srcgrad_tape_bytes"] = int(sg.fn.tape_bytes(*args))
            except Exception as exc:  # noqa: BLE001
                rec["srcgrad_tape_bytes_error"] = common.describe_exception(exc)
        if w.hand_tape_bytes is not None and "hand" in results:
            rec["hand_tape_bytes"] = int(w.hand_tape_bytes(size))

        # timing
        timed = {"numba_fwd": (fwd_state.fn, args)}
        for name, (_, _, fargs, _) in results.items():
            states[name].status = "ok"
            timed[name] = (states[name].fn, fargs)
        t_timing = time.perf_counter()
        slowest = sorted(rec["check_call_s"].items(), key=lambda kv: -kv[1])[:3]
        say(f"{label}: checks took {t_timing - t_size:.1f} s (slowest calls: "
            + ", ".join(f"{n} {common.fmt_time(t)}" for n, t in slowest) + f"); timing {len(timed)} peers "
            f"({repeats} repeats) ...")
        # A slow Python-taping peer (one call = many minimum samples) needs no calibration and no
        # warm-up (its checked call was one): it is timed one call per sample, after the others.
        slow = {n: v for n, v in timed.items()
                if states[n].peer.family in SLOW_FAMILIES
                and rec["check_call_s"].get(n, 0.0) >= SLOW_CALL_SAMPLES * defaults["min_sample_s"]}
        timings = common.time_interleaved({n: v for n, v in timed.items() if n not in slow}, repeats,
                                          defaults["min_sample_s"], max_seconds_per_peer=defaults["peer_seconds"],
                                          min_repeats=defaults["min_repeats"])
        for n, (fn, fa) in slow.items():
            t = _time_one_call_samples(fn, fa, repeats, defaults["peer_seconds"], defaults["min_repeats"],
                                       defaults["min_sample_s"])
            if t is None:  # faster than its checked call said: calibrated like the others
                t = common.time_interleaved({n: (fn, fa)}, repeats, defaults["min_sample_s"],
                                            max_seconds_per_peer=defaults["peer_seconds"],
                                            min_repeats=defaults["min_repeats"])[n]
            timings[n] = t
        rec["phase_s"] = {"checks": t_timing - t_size, "timing": time.perf_counter() - t_timing}
        for name, s in timings.items():
            s.pop("samples", None)
            rec["peers"].setdefault(name, {})
            rec["peers"][name].update({"status": "ok", "timing": s})
            if name in states and name != "numba_fwd":
                states[name].history[-1] = (w.work(size), s["median"])
        rec["ratios"] = _ratios(rec)
        say(f"{label}: timing took {rec['phase_s']['timing']:.1f} s: "
            + ", ".join(f"{n} {common.fmt_time(s['median'])}" for n, s in timings.items()))

    # ---- the eval's own output (an argmin over the gradient), with every checked peer ----
    evaluation = None
    if w.eval_output is not None and not hard:
        say("eval: solving GradBench's eval with every peer that passed the checks ...")
        try:
            evaluation = w.eval_output({n: (st.peer, st.fn, st.status) for n, st in states.items()}, mode, say)
            hard += [f"eval: {f}" for f in evaluation.get("failures", [])]
        except Exception as exc:  # noqa: BLE001 - the workload's own code: a hard failure
            hard.append(f"eval: raised {common.describe_exception(exc)}")

    if hard:
        say("CHECK FAILED: " + " || ".join(hard))

    # ---- first calls and memory in fresh processes ------------------------------------
    fresh: dict = {}
    if do_sub and not hard:
        fresh = _fresh_process_measurements(w, mode, sizes, main_size, states, records, say)

    result = {
        "benchmark": w.name,
        "title": w.title,
        "description": w.description,
        "kind": w.kind,
        "mode": mode,
        "machine": machine,
        "config": {"repeats": repeats, "min_sample_s": defaults["min_sample_s"], "call_limit_s": call_limit,
                   "peer_seconds": defaults["peer_seconds"], "min_repeats": defaults["min_repeats"],
                   "cache_compiles": defaults["cache_compiles"], "sizes": sizes, "main_size": main_size,
                   "rtol_value": w.rtol_value, "rtol_peers": w.rtol_peers, "floor_rel": w.floor_rel,
                   "rtol_fd": w.rtol_fd, "fd_step": w.fd_step, "fd_directions": w.fd_directions,
                   "torch_threads": 1 if "torch" in _LIBS and not isinstance(_LIBS["torch"], Unavailable)
                   else None, "x_label": w.x_label},
        "peers": {name: {"label": st.peer.label, "family": st.peer.family, "kind": st.peer.kind,
                         "status": st.status, "note": st.peer.note, "make_s": st.make_s,
                         "first_call_in_process_s": st.first_call_s,
                         "cap": None if st.peer.max_size is None else {"max_size": st.peer.max_size,
                                                                         "reason": st.peer.cap_reason}}
                  for name, st in states.items()},
        "sizes": records,
        "fresh_process": fresh,
        "eval": evaluation,
        "hard_failures": hard,
        "notes": notes,
    }
    result["goals"] = goals(result)
    result["total_wall_s"] = time.perf_counter() - t_begin
    warning = common.load_warning(machine)
    if warning:
        notes.append(warning)
    common.write_json(stem + ".json", result)
    t_out = time.perf_counter()
    if plot:
        try:
            plot_result(result, stem + ".png")
        except ImportError as exc:
            notes.append(f"no plot: {exc}")
            say(f"no plot: {exc}")
    print_result(result)
    say(f"wrote {stem}.json ({result['total_wall_s']:.1f} s; plot {time.perf_counter() - t_out:.1f} s)")
    return result


def _ratios(rec: dict) -> dict:
    peers = rec["peers"]

    def med(n):
        t = peers.get(n, {}).get("timing")
        return None if t is None else t["median"]

    out = {}
    s = med("srcgrad")
    f = med("numba_fwd")
    if s is not None:
        if f:
            out["srcgrad/forward"] = s / f
        for n in peers:
            if n not in ("srcgrad", "numba_fwd") and med(n):
                out[f"srcgrad/{n}"] = s / med(n)
    for n in peers:
        if n not in ("srcgrad", "numba_fwd") and med(n) and f:
            out[f"{n}/forward"] = med(n) / f
    return out


def _peer_time(rec: dict, name: str) -> tuple[float | None, bool]:
    """(time, extrapolated?) of a peer at one size."""
    p = rec["peers"].get(name, {})
    if "timing" in p:
        return p["timing"]["median"], False
    if "extrapolated_s" in p:
        return p["extrapolated_s"], True
    return None, False


def goals(result: dict) -> dict:
    """Per size: srcgrad/hand, srcgrad/<each JAX peer> (< 1: srcgrad faster), and <peer>/srcgrad for the
    PyTorch, autograd and tangent peers (> 1: srcgrad faster; ``<peer>/srcgrad_extrapolated`` when that
    peer's time is extrapolated)."""
    out: dict = {}
    family = {n: p["family"] for n, p in result["peers"].items()}
    for rec in result["sizes"]:
        s, _ = _peer_time(rec, "srcgrad")
        if s is None:
            continue
        g: dict = {}
        for n in rec["peers"]:
            t, ex = _peer_time(rec, n)
            if t is None or n == "srcgrad":
                continue
            fam = family.get(n)
            if n == "hand":
                g["srcgrad/hand"] = s / t
            elif fam == "jax":
                g[f"srcgrad/{n}"] = s / t
            elif fam in ("torch", "autograd", "tangent"):
                g[f"{n}/srcgrad"] = t / s
                if ex:
                    g[f"{n}/srcgrad_extrapolated"] = True
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


def _fresh_process_measurements(w: Workload, mode, sizes, main_size, states, records, say) -> dict:
    out: dict = {"first_call_size": sizes[0], "memory_size": main_size, "peers": {}}
    timeout = 900.0 if mode == "full" else 300.0
    for name, st in states.items():
        if st.status != "ok":
            continue
        # memory at the main size only if the peer ran there, else at the largest size it ran
        ran = [r["size"] for r in records if r["peers"].get(name, {}).get("status") == "ok"]
        mem_size = main_size if main_size in ran else (ran[-1] if ran else None)
        runs = []
        caches = [None]
        tmp = None
        if name == "srcgrad":
            tmp = tempfile.mkdtemp(prefix="srcgrad-bench-cache-")
            caches = [tmp, tmp]  # empty cache, then the same cache warm
        try:
            for k, cache in enumerate(caches):
                tag = "" if name != "srcgrad" else (" (empty cache)" if k == 0 else " (warm cache)")
                say(f"fresh process: {name}{tag} ...")
                try:
                    runs.append(_child(_module_name(w), name, sizes[0], mem_size, cache, timeout))
                except Exception as exc:  # noqa: BLE001
                    runs.append({"error": common.describe_exception(exc, 1000)})
                    say(f"  {name}: fresh process failed: {common.describe_exception(exc)}")
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
        out["peers"][name] = runs
    return out


_CHILD_TIMEOUT_NOTE = "the child process exceeded its time limit"


def _child(module: str, peer: str, first_size, mem_size, cache_dir, timeout: float) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(common.PROJECT_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH")
                                                                        else []))
    if cache_dir is not None:
        env["SRCGRAD_CACHE_DIR"] = str(cache_dir)
    cmd = [sys.executable, "-m", "bench.runner", "child", module, peer, _size_key(first_size),
           "null" if mem_size is None else _size_key(mem_size)]
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


def child_main(module: str, peer_name: str, first_size_json: str, mem_size_json: str) -> int:
    """In a fresh process: build one peer, first call at the first size, then peak memory at ``mem_size``."""
    t_start = time.perf_counter()
    mod = importlib.import_module(module)
    if peer_name.startswith("torch"):
        _torch_one_thread()
    w: Workload = mod.WORKLOAD
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
# output
# --------------------------------------------------------------------------

def _peer_order(result: dict) -> list[str]:
    fam = {n: p["family"] for n, p in result["peers"].items()}
    return sorted(result["peers"], key=lambda n: (FAMILY_ORDER.index(fam[n]) if fam[n] in FAMILY_ORDER else 99, n))


def _cell(rec: dict, name: str, md: bool = False) -> str:
    p = rec["peers"].get(name)
    if p is None:
        return "-"
    if "timing" in p:
        t = p["timing"]
        return f"{common.fmt_time(t['median'])} ±{100 * t['iqr'] / t['median']:.0f}%"
    if "extrapolated_s" in p:
        return f"~{common.fmt_time(p['extrapolated_s'])} (extrap.)"
    st = p.get("status", "")
    if st.startswith("unavailable"):
        return "n/a"
    if st.startswith("failed"):
        return "**failed**" if md else "FAILED"
    if st.startswith("not run"):
        return "not run"
    return "-"


def _fresh_summary(result: dict) -> list[list[str]]:
    rows = []
    fresh = (result.get("fresh_process") or {}).get("peers", {})
    fresh_size = (result.get("fresh_process") or {}).get("memory_size")
    labels = {_size_key(r["size"]): r["label"] for r in result["sizes"]}
    for name in _peer_order(result):
        runs = fresh.get(name)
        if not runs:
            continue
        for k, r in enumerate(runs):
            tag = name if name != "srcgrad" else ("srcgrad, empty cache" if k == 0 else "srcgrad, warm cache")
            if "error" in r:
                rows.append([tag, "failed", "-", "-", "-", r["error"][:80]])
                continue
            mem = r.get("memory") or {}
            peak = common.fmt_bytes(mem.get("peak_extra_bytes")) if mem and "error" not in mem else "-"
            if mem.get("size") is not None and _size_key(mem["size"]) != _size_key(fresh_size):
                peak += f" (at {labels.get(_size_key(mem['size']), mem['size'])})"
            rows.append([tag, common.fmt_time(r["first_call_total_s"]), common.fmt_time(r["process_wall_s"]),
                         common.fmt_time(r["to_first_result_s"]), peak,
                         common.fmt_bytes(mem.get("tape_bytes")) if mem.get("tape_bytes") is not None else ""])
    return rows


def print_result(result: dict) -> None:
    order = _peer_order(result)
    print()
    print(f"{result['title']} ({result['mode']}): median wall time per call, ±IQR as % of median")
    rows = [[rec["label"]] + [_cell(rec, n) for n in order] for rec in result["sizes"]]
    print(common.format_table(["size"] + order, rows))
    rrows = []
    for rec in result["sizes"]:
        g = result["goals"].get(rec["label"], {})
        r = rec.get("ratios", {})
        keys = (["srcgrad/forward"] if "srcgrad/forward" in r else []) + [
            k for k in g if not k.endswith("_extrapolated")]
        rrows.append([rec["label"]] + [f"{k}={(r.get(k) if k in r else g.get(k)):.3g}" for k in keys
                                       if (r.get(k) if k in r else g.get(k)) is not None])
    for row in rrows:
        print("  " + "  ".join(row))
    ev = result.get("eval")
    if ev:
        print(f"GradBench's eval ({ev.get('input') or 'its input'}), solved with each peer:")
        print(common.format_table(ev["columns"], ev["table"]))
    fr = _fresh_summary(result)
    if fr:
        print(common.format_table(["fresh process", "build+1st call", "process wall", "to 1st result",
                                   "peak extra RSS", "tape"], fr))
    for name in order:
        st = result["peers"][name]["status"]
        if st != "ok":
            print(f"  {name}: {st[:400]}")
    for h in result["hard_failures"]:
        print("CHECK FAILED:", h)


def plot_result(result: dict, path: str) -> None:
    """Log-log plot of the median times over the sizes (extrapolated points hollow), and ratios to srcgrad."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = sorted(result["sizes"], key=lambda r: r["work"])  # a grid's order need not follow its work
    if not recs:
        return
    xs = [r["work"] for r in recs]
    order = _peer_order(result)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12.5, 4.8))
    markers = "osD^v<>phX*"
    for i, name in enumerate(order):
        pts = [(x, _peer_time(r, name)) for x, r in zip(xs, recs)]
        meas = [(x, t) for x, (t, ex) in pts if t is not None and not ex]
        extra = [(x, t) for x, (t, ex) in pts if t is not None and ex]
        if not meas and not extra:
            continue
        color = plt.cm.tab10(i % 10)
        if meas:
            ax.plot([p[0] for p in meas], [p[1] for p in meas], marker=markers[i % len(markers)], color=color,
                    label=name)
        if extra:
            last = meas[-1:] if meas else []
            ax.plot([p[0] for p in last + extra], [p[1] for p in last + extra], linestyle=":", color=color,
                    marker=markers[i % len(markers)], markerfacecolor="none",
                    label=None if meas else f"{name} (extrapolated)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(result["config"].get("x_label", "size"))
    ax.set_ylabel("wall time per call [s] (median)")
    ax.set_title(f"{result['title']}: value and gradient", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    for i, name in enumerate(order):
        if name == "srcgrad":
            continue
        vals = []
        for x, r in zip(xs, recs):
            s, _ = _peer_time(r, "srcgrad")
            t, ex = _peer_time(r, name)
            if s is not None and t is not None:
                vals.append((x, t / s, ex))
        if vals:
            color = plt.cm.tab10(i % 10)
            ax2.plot([v[0] for v in vals], [v[1] for v in vals], marker=markers[i % len(markers)], color=color,
                     linestyle="--", label=name)
            ex = [v for v in vals if v[2]]
            if ex:
                ax2.plot([v[0] for v in ex], [v[1] for v in ex], linestyle="none", marker="o", markersize=10,
                         markerfacecolor="none", color=color)
    ax2.axhline(1.0, color="k", lw=0.8)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel(result["config"].get("x_label", "size"))
    ax2.set_ylabel("peer time / srcgrad time (>1: srcgrad faster)")
    ax2.set_title("relative to srcgrad (circled: extrapolated)", fontsize=10)
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7)
    m = result["machine"]
    fig.text(0.5, 0.005, f"{m['cpu_model']}, {m['cpu_count']} cores; numba {m['versions'].get('numba')}; "
             f"{result['mode']} run, {result['config']['repeats']} repeats; {m['date_utc']}",
             ha="center", va="bottom", fontsize=7, alpha=0.8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown_section(result: dict, image: str | None) -> str:
    """The workload's section of docs/benchmarks.md: description, tables, plot, failures."""
    order = _peer_order(result)
    lines = [f"## {result['title']}", "", result["description"].strip(), ""]
    lines.append("| peer | what it runs |")
    lines.append("|---|---|")
    for n in order:
        p = result["peers"][n]
        st = p["status"]
        extra = ""
        if st.startswith(("unavailable", "failed")):
            extra = f" **{st.split(':')[0]}**: {st.split(':', 1)[1].strip()[:300]}"
        if p.get("cap"):
            extra += f" (run up to {p['cap']['max_size']}: {p['cap']['reason']})"
        if p.get("note"):
            extra += f" {p['note']}"
        lines.append(f"| `{n}` | {p['label']}.{extra} |")
    lines.append("")
    cfg = result["config"]
    lines.append(f"Median wall time per call, ± IQR as % of the median ({result['mode']} run, "
                 f"{cfg['repeats']} samples at most, {cfg['peer_seconds']:g} s of samples per peer; "
                 f"\"extrap.\": the peer was predicted to need more than {cfg['call_limit_s']:g} s per call "
                 "there; its time is extrapolated from the two largest sizes it ran, as a power of the work "
                 "with an exponent between 1 and 3):")
    lines.append("")
    lines.append("| size | " + " | ".join(f"`{n}`" for n in order) + " |")
    lines.append("|---" * (len(order) + 1) + "|")
    for rec in result["sizes"]:
        lines.append(f"| {rec['label']} | " + " | ".join(_cell(rec, n, md=True) for n in order) + " |")
    lines.append("")
    # ratios: srcgrad against the forward, the hand adjoint and JAX (< 1: srcgrad faster), the
    # Python-taping tools against srcgrad (> 1: srcgrad faster)
    keys: list[str] = []
    for rec in result["sizes"]:
        for k in ["srcgrad/forward"] + list(result["goals"].get(rec["label"], {})):
            if not k.endswith("_extrapolated") and k not in keys and (k != "srcgrad/forward"
                                                                     or "srcgrad/forward" in rec.get("ratios", {})):
                keys.append(k)
    order = {n: i for i, n in enumerate(_peer_order(result))}
    keys.sort(key=lambda k: (k != "srcgrad/forward", k != "srcgrad/hand", not k.startswith("srcgrad/"),
                             order.get(k.replace("srcgrad/", "").replace("/srcgrad", ""), 99)))
    if keys:
        lines.append("Ratios of median times (`srcgrad/x` < 1 and `x/srcgrad` > 1 mean srcgrad is faster; "
                     "*italic*: from an extrapolated time):")
        lines.append("")
        lines.append("| size | " + " | ".join(keys) + " | srcgrad tape |")
        lines.append("|---" * (len(keys) + 2) + "|")
        for rec in result["sizes"]:
            g = result["goals"].get(rec["label"], {})
            r = rec.get("ratios", {})
            cells = []
            for k in keys:
                v = g.get(k, r.get(k))
                if v is None:
                    cells.append("-")
                    continue
                txt = f"{v:.3g}"
                cells.append(f"*{txt}*" if g.get(k + "_extrapolated", False) else txt)
            tape = rec.get("srcgrad_tape_bytes")
            hand = rec.get("hand_tape_bytes")
            tcell = common.fmt_bytes(tape) if tape is not None else "-"
            if hand is not None:
                tcell += f" (hand: {common.fmt_bytes(hand)})"
            lines.append(f"| {rec['label']} | " + " | ".join(cells) + f" | {tcell} |")
        lines.append("")
    ev = result.get("eval")
    if ev:
        lines.append(ev["description"] + (f" Input: {ev['input']}." if ev.get("input") else ""))
        lines.append("")
        lines.append("| " + " | ".join(ev["columns"]) + " |")
        lines.append("|---" * len(ev["columns"]) + "|")
        for row in ev["table"]:
            lines.append("| " + " | ".join(c.replace("|", "/") for c in row) + " |")
        lines.append("")
    fr = _fresh_summary(result)
    if fr:
        fresh = result["fresh_process"]
        lab = [r["label"] for r in result["sizes"] if r["size"] == fresh.get("first_call_size")]
        mlab = [r["label"] for r in result["sizes"] if r["size"] == fresh.get("memory_size")]
        lines.append(f"In a fresh process: build + first call at {lab[0] if lab else '?'} (transform, compile, "
                     "one run), the whole process until that first result, and the extra peak resident memory "
                     f"of one call at {mlab[0] if mlab else 'the largest size the peer ran'} after that "
                     "warm-up:")
        lines.append("")
        lines.append("| process | build + first call | to first result | peak extra memory | srcgrad tape |")
        lines.append("|---|---|---|---|---|")
        for row in fr:
            lines.append(f"| {row[0]} | {row[1]} | {row[3]} | {row[4]} | {row[5]} |")
        lines.append("")
    if image:
        lines.append(f"![{result['title']}]({image})")
        lines.append("")
    for h in result["hard_failures"]:
        lines.append(f"**Check failed:** {h}")
        lines.append("")
    m = result["machine"]
    commit = (m.get("git") or {}).get("commit") or "?"
    lines.append(f"<sub>{result['mode']} run of `python -m bench --only {result['benchmark']}` at commit "
                 f"{commit[:7]}{' (dirty tree)' if (m.get('git') or {}).get('dirty') else ''}, "
                 f"{m['date_utc']}, {result.get('total_wall_s', 0):.0f} s.</sub>")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------

def main_for(w: Workload, argv=None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m {w.module}", description=w.title)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, few repeats")
    ap.add_argument("--tiny", action="store_true", help="smallest sizes, no fresh processes (for tests)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--out-dir", default=None, help="where the JSON and PNG go (default bench/results)")
    ap.add_argument("--no-subprocess", action="store_true", help="skip the fresh-process measurements")
    ap.add_argument("--subprocess", action="store_true", help="measure in fresh processes even in quick/tiny mode")
    ap.add_argument("--skip-peers", default="", help="comma-separated peer names not to run")
    ap.add_argument("--only-peers", default="", help="comma-separated peer names to run (plus the forward)")
    ap.add_argument("--plot", action=argparse.BooleanOptionalAction, default=None,
                    help="draw the PNG plot (default: in a full run only)")
    opts = ap.parse_args(argv)
    mode = "tiny" if opts.tiny else ("quick" if opts.quick else "full")
    res = run_workload(w, mode, repeats=opts.repeats, out_dir=opts.out_dir,
                       subprocess_measurements=False if opts.no_subprocess else (True if opts.subprocess else None),
                       skip_peers=[p for p in opts.skip_peers.split(",") if p],
                       only_peers=[p for p in opts.only_peers.split(",") if p], plot=opts.plot)
    return 2 if res["hard_failures"] else 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "child":
        sys.exit(child_main(*sys.argv[2:6]))
    print("usage: python -m bench.runner child MODULE PEER FIRST_SIZE_JSON MEM_SIZE_JSON", file=sys.stderr)
    sys.exit(2)
