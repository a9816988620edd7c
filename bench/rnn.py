"""Benchmark: gradient of a recurrent loop ``h = tanh(W @ h + x[t])`` over T steps.

Run from the project root::

    python -m bench.rnn              # full run: H in 8, 32, 128, 256; T = 1000; JAX unrolled at H = 32
    python -m bench.rnn --quick      # smoke run: H in 32, 128; no unrolled JAX; fewer repeats

Workload
--------
An Elman-style recurrence without biases, started from ``h = 0``::

    for t in range(T):
        h = tanh(W @ h + x[t])
    loss = sum(w_out * h)          # a fixed random readout of the last state

``W`` (H, H) = 0.9 * N(0,1) / sqrt(H) (spectral radius about 0.9: neither exploding nor
collapsing), ``x`` (T, H) = 0.5 * N(0,1), ``w_out`` (H,) = N(0,1), fixed seeds.  Gradient
with respect to ``W`` and ``x`` (``w_out`` is a constant).  ``d loss / d x[t]`` decays
geometrically going back from ``t = T-1``, so most of its T*H components are tiny; they
are checked against the array's scale, not each on its own (``common.check_close_scaled``).

Peers (same process, same arguments)
-----------------------------------
* ``numba_fwd``    -- ``numba.njit(rnn_loss)``, the user function itself (``W @ h`` is a BLAS
  gemv call in Numba).
* ``hand_adjoint`` -- a hand-written Numba adjoint: the forward stores every state (T+1)*H
  floats (H*8 bytes per step), the reverse loop does ``ga = gh * (1 - h^2)``,
  ``gW += outer(ga, h_prev)``, ``gh = W.T @ ga``.  The practical speed limit, and the tape
  reference (H*8 B/step).
* ``srcgrad``      -- ``srcgrad.grad(rnn_loss, wrt=(0, 1))``.
* ``jax_scan_fwd`` / ``jax_scan_grad`` -- ``jax.jit`` of the same recurrence as ``lax.scan``,
  and ``jax.jit(jax.grad(..., argnums=(0, 1)))`` of it; float64; device inputs made once;
  each call ends in ``block_until_ready``.
* ``jax_unrolled_grad`` (full run, H = 32 only) -- ``jax.jit(jax.grad(...))`` of the plain
  Python loop in ``jax.numpy``, which JAX unrolls into T copies of the step.  Its compile
  time grows faster than linearly in T (about 100 s at T = 1000 on the reference machine),
  so it runs in a subprocess with a time limit; its steady time there is the median of 5
  calls (not interleaved with the others).

Checks (before any timing)
--------------------------
Non-srcgrad peers must agree or the run aborts (exit code 2): Numba forward vs plain
Python (rtol 1e-12, small T) and vs the JAX scan forward and the hand adjoint's value
(rtol 1e-11); the hand adjoint's gradient vs JAX's (scaled rtol 1e-9) and vs 4th-order
central finite differences of the Numba forward along 3 random unit directions in
(W, x) (rtol 1e-6).  srcgrad's gradient vs the hand adjoint (scaled rtol 1e-9), its
directional derivatives vs the finite differences, its ``value_and_grad`` value vs the
forward.  If srcgrad fails to build, raises, or disagrees, it is reported as
``srcgrad: failed: <reason>`` and not timed; everything else still runs.

Metrics
-------
Wall time per call (``common.time_interleaved``; 30 samples, 7 with ``--quick``); ratios
srcgrad / jax_scan_grad, srcgrad / hand_adjoint, srcgrad / numba_fwd; srcgrad tape bytes
per step (``g.tape_bytes(...) / T``) vs the hand adjoint's H*8; first call in a fresh
process (srcgrad with an empty and a warm cache dir, JAX scan jit(grad), Numba forward).

Output: ``bench/results/rnn.json`` and ``rnn.png`` (``rnn_quick.*`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np

from bench import common

try:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax

    JAX_ERROR = None
except Exception as _exc:  # noqa: BLE001 - the benchmark still runs its other peers
    jax = jnp = lax = None
    JAX_ERROR = common.describe_exception(_exc)


# --------------------------------------------------------------------------
# the workload
# --------------------------------------------------------------------------

def rnn_loss(W, x, w_out):
    """sum(w_out * h_T) after h = tanh(W @ h + x[t]) for t < T, from h = 0 (the user function)."""
    h = np.zeros(x.shape[1])
    for t in range(x.shape[0]):
        h = np.tanh(W @ h + x[t])
    return np.sum(w_out * h)


rnn_forward_nb = numba.njit(rnn_loss)


@numba.njit
def rnn_hand_adjoint(W, x, w_out):
    """Hand adjoint: (loss, dL/dW, dL/dx), storing all T+1 states."""
    T = x.shape[0]
    H = x.shape[1]
    hs = np.empty((T + 1, H))
    hs[0, :] = 0.0
    for t in range(T):
        hs[t + 1, :] = np.tanh(W @ hs[t] + x[t])
    loss = np.sum(w_out * hs[T])
    gW = np.zeros((H, H))
    gx = np.empty((T, H))
    gh = w_out.copy()
    WT = np.ascontiguousarray(W.T)
    for t in range(T - 1, -1, -1):
        hn = hs[t + 1]
        hp = hs[t]
        ga = gh * (1.0 - hn * hn)
        gx[t, :] = ga
        for i in range(H):
            gai = ga[i]
            for j in range(H):
                gW[i, j] += gai * hp[j]
        gh = WT @ ga
    return loss, gW, gx


def rnn_loss_scan(W, x, w_out):
    """The same recurrence in jax.numpy with lax.scan."""
    def step(h, xt):
        return jnp.tanh(W @ h + xt), None

    h, _ = lax.scan(step, jnp.zeros(x.shape[1], dtype=x.dtype), x)
    return jnp.sum(w_out * h)


def rnn_loss_unrolled(W, x, w_out):
    """The same recurrence as a Python loop in jax.numpy (unrolled by tracing)."""
    h = jnp.zeros(x.shape[1], dtype=x.dtype)
    for t in range(x.shape[0]):
        h = jnp.tanh(W @ h + x[t])
    return jnp.sum(w_out * h)


WRT = (0, 1)
WRT_NAMES = ("W", "x")


def make_jax_scan_fwd():
    return jax.jit(rnn_loss_scan)


def make_jax_scan_grad():
    return jax.jit(jax.grad(rnn_loss_scan, argnums=WRT))


def make_jax_scan_grad_blocking():
    return common.blocking(make_jax_scan_grad())


def make_jax_unrolled_grad_blocking():
    return common.blocking(jax.jit(jax.grad(rnn_loss_unrolled, argnums=WRT)))


def rnn_args(H: int, T: int, seed: int = 0) -> tuple:
    """(W, x, w_out) from a fixed seed."""
    rng = np.random.default_rng(7919 * seed + H)
    W = 0.9 * rng.standard_normal((H, H)) / math.sqrt(H)
    x = 0.5 * rng.standard_normal((T, H))
    w_out = rng.standard_normal(H)
    return (W, x, w_out)


def rnn_args_jax(H: int, T: int, seed: int = 0) -> tuple:
    return tuple(jnp.asarray(a) for a in rnn_args(H, T, seed))


# --------------------------------------------------------------------------
# every peer (bench/runner.py): python -m bench.rnn --all-peers
# --------------------------------------------------------------------------

def rnn_loss_torch(W, x, w_out):
    import torch
    h = torch.zeros(x.shape[1], dtype=x.dtype)
    for t in range(x.shape[0]):
        h = torch.tanh(W @ h + x[t])
    return torch.sum(w_out * h)


def rnn_loss_autograd(W, x, w_out):
    import autograd.numpy as anp
    h = anp.zeros(x.shape[1])
    for t in range(x.shape[0]):
        h = anp.tanh(anp.dot(W, h) + x[t])
    return anp.sum(w_out * h)


def rnn_loss_tangent(W, x, w_out):
    """The user function with np.dot for @ and len for shapes (what tangent-ad reads)."""
    h = np.zeros(len(w_out))
    for t in range(len(x)):
        h = np.tanh(np.dot(W, h) + x[t])
    return np.sum(w_out * h)


def _make_peers_workload():
    from bench import runner
    return runner.Workload(
        name="rnn_peers",
        title="RNN h = tanh(W h + x[t]), every peer",
        module=__name__,
        fn=rnn_loss,
        forward=rnn_forward_nb,
        wrt=WRT,
        wrt_names=WRT_NAMES,
        args=lambda size: rnn_args(*size),
        sizes={"full": [(32, 100), (32, 1000), (128, 1000)], "quick": [(32, 100), (32, 1000)],
               "tiny": [(4, 10)]},
        main_size={"full": (32, 1000), "quick": (32, 1000), "tiny": (4, 10)},
        work=lambda size: float(size[0] * size[0] * size[1]),
        size_label=lambda size: f"H={size[0]}, T={size[1]:,}",
        x_label="H^2 T (multiply-adds of the forward)",
        kind="loop",
        rtol_value=1e-11,
        hand_tape_bytes=lambda size: 8 * size[0] * (size[1] + 1),
        peers=[
            runner.hand_peer(rnn_hand_adjoint, "hand-written Numba adjoint storing every state"),
            runner.jax_peer(rnn_loss_scan, WRT, "JAX jit(value_and_grad), lax.scan over the steps"),
            runner.torch_peer(rnn_loss_torch, WRT, "PyTorch eager autograd, Python loop over the steps"),
            runner.autograd_peer(rnn_loss_autograd, WRT, "HIPS autograd, Python loop over the steps"),
            runner.tangent_peer(rnn_loss_tangent, WRT, "tangent-ad, the user function's loop (np.dot for @)"),
        ],
        description="""
The same recurrence as the RNN section, with every peer side by side
(`python -m bench.rnn --all-peers`): PyTorch, autograd and tangent loop over the
steps in Python on vectors of `H` units, JAX scans.
""",
    )


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------

RTOL_SAME = 1e-11
RTOL_PYTHON = 1e-12
RTOL_PEERS = 1e-9
FLOOR_REL = 1e-6
RTOL_FD = 1e-6
FD_DIRECTIONS = 3


def _dot_dir(grads, direction) -> float:
    return float(sum(np.sum(np.asarray(grads[i]) * direction[i]) for i in WRT))


def run_checks(H, T, sp: common.SrcgradPeer | None, jfwd, jgrad, python: bool, unrolled=None) -> tuple[dict, list]:
    args = rnn_args(H, T, seed=1)
    label = f"H={H},T={T}"
    rec: dict = {"H": H, "T": T, "max_err": {}}
    hard: list[str] = []

    def hard_chk(name, fn, *a):
        try:
            rec["max_err"][name] = fn(f"{label}: {name}", *a)
        except common.CheckFailed as exc:
            hard.append(str(exc))

    v_nb = float(rnn_forward_nb(*args))
    rec["value"] = v_nb
    if python:
        hard_chk("numba_fwd_vs_python", common.check_close, v_nb, float(rnn_loss(*args)), RTOL_PYTHON)
    hand = rnn_hand_adjoint(*args)
    g_hand = (hand[1], hand[2])
    hard_chk("hand_value_vs_numba_fwd", common.check_close, float(hand[0]), v_nb, RTOL_SAME)
    if jfwd is not None:
        jargs = tuple(jnp.asarray(a) for a in args)
        hard_chk("jax_scan_fwd_vs_numba_fwd", common.check_close, float(jfwd(*jargs)), v_nb, RTOL_SAME)
        g_jax = tuple(np.asarray(a, dtype=float) for a in jgrad(*jargs))
        for i, nm in zip(WRT, WRT_NAMES):
            hard_chk(f"hand_d{nm}_vs_jax_scan", common.check_close_scaled, g_hand[i], g_jax[i], RTOL_PEERS, FLOOR_REL)
        if unrolled is not None:
            g_u = tuple(np.asarray(a, dtype=float) for a in unrolled(*jargs))
            for i, nm in zip(WRT, WRT_NAMES):
                hard_chk(f"jax_unrolled_d{nm}_vs_jax_scan", common.check_close_scaled, g_u[i], g_jax[i],
                         RTOL_PEERS, FLOOR_REL)
    rng = np.random.default_rng(5)
    directions, fds = [], []
    for _ in range(FD_DIRECTIONS):
        dr = {i: rng.standard_normal(args[i].shape) for i in WRT}
        norm = math.sqrt(sum(float(np.sum(v * v)) for v in dr.values()))
        dr = {i: v / norm for i, v in dr.items()}
        directions.append(dr)
        fds.append(common.fd4_directional(rnn_forward_nb, args, dr, step=1e-3))
    rec["fd_directional"] = fds
    hard_chk("hand_vs_fd4_directional", common.check_close, [_dot_dir(g_hand, dr) for dr in directions], fds, RTOL_FD)

    if sp is not None and sp.ok:
        g_s = sp.grad(args)
        if g_s is not None:
            try:
                for i, nm in zip(WRT, WRT_NAMES):
                    if g_s[i].shape != args[i].shape:
                        raise common.CheckFailed(f"{label}: srcgrad d/d{nm} has shape {g_s[i].shape}, "
                                                 f"want {args[i].shape}")
                    rec["max_err"][f"srcgrad_d{nm}_vs_hand"] = common.check_close_scaled(
                        f"{label}: srcgrad d/d{nm} vs hand adjoint", g_s[i], g_hand[i], RTOL_PEERS, FLOOR_REL)
                rec["max_err"]["srcgrad_vs_fd4_directional"] = common.check_close(
                    f"{label}: srcgrad directional derivatives vs fd4",
                    [_dot_dir(g_s, dr) for dr in directions], fds, RTOL_FD)
                vg = sp.value_and_grad(args)
                if vg is not None:
                    rec["max_err"]["srcgrad_value_vs_numba_fwd"] = common.check_close(
                        f"{label}: srcgrad value", vg[0], v_nb, RTOL_SAME)
                    for i, nm in zip(WRT, WRT_NAMES):
                        common.check_close_scaled(f"{label}: srcgrad value_and_grad d/d{nm} vs grad",
                                                  vg[1][i], g_s[i], 1e-14, FLOOR_REL)
            except common.CheckFailed as exc:
                sp.fail("wrong answer: " + str(exc).replace("\n", " | ")[:600])
    return rec, hard


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def _first_call_runs(pairs: int, H: int, T: int, with_srcgrad: bool, log) -> dict:
    out: dict = {"H": H, "T": T}

    def run(key, **kw):
        try:
            out.setdefault(key, []).append(common.first_call_subprocess(
                "bench.rnn", args=[H, T], args_factory=kw.pop("factory", "rnn_args"), **kw))
        except Exception as exc:  # noqa: BLE001
            out.setdefault(key + "_errors", []).append(common.describe_exception(exc, 2000))
            log(f"  {key}: FAILED: {common.describe_exception(exc)}")

    if with_srcgrad:
        for i in range(pairs):
            cache = tempfile.mkdtemp(prefix="srcgrad-bench-cache-")
            try:
                log(f"  srcgrad first call, empty cache dir [{i + 1}/{pairs}] ...")
                run("srcgrad_cold", func="rnn_loss", wrt=WRT, kind="srcgrad_grad", cache_dir=cache)
                log(f"  srcgrad first call, warm cache dir [{i + 1}/{pairs}] ...")
                run("srcgrad_warm", func="rnn_loss", wrt=WRT, kind="srcgrad_grad", cache_dir=cache)
            finally:
                shutil.rmtree(cache, ignore_errors=True)
    for i in range(pairs):
        log(f"  numba forward / hand adjoint / jax scan jit(grad) first call [{i + 1}/{pairs}] ...")
        run("numba_fwd", func="rnn_forward_nb", kind="plain")
        run("numba_hand_adjoint", func="rnn_hand_adjoint", kind="plain")
        if jax is not None:
            run("jax_scan_grad", func="make_jax_scan_grad_blocking", kind="factory", factory="rnn_args_jax")
    return common.summarize_first_calls(out)


def _unrolled_run(H: int, T: int, timeout: float, log) -> dict:
    """jit(grad) of the unrolled Python loop in a fresh process: compile time and steady time, or why not."""
    log(f"  JAX unrolled Python loop, H={H}, T={T}: compiling in a subprocess (limit {timeout:.0f} s) ...")
    try:
        r = common.first_call_subprocess("bench.rnn", "make_jax_unrolled_grad_blocking", [H, T], kind="factory",
                                         args_factory="rnn_args_jax", timeout=timeout)
        r["status"] = "ok"
        return r
    except subprocess.TimeoutExpired:
        return {"status": f"skipped: compile + first call exceeded {timeout:.0f} s"}
    except Exception as exc:  # noqa: BLE001
        return {"status": f"failed: {common.describe_exception(exc)}"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.rnn", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="H in 32, 128; 7 repeats; no unrolled JAX")
    ap.add_argument("--repeats", type=int, default=None, help="timing samples per peer and size (default 30, quick 7)")
    ap.add_argument("--T", type=int, default=1000, help="time steps (default 1000)")
    ap.add_argument("--skip-srcgrad", action="store_true", help="check and time only the other peers")
    ap.add_argument("--unrolled", choices=("auto", "yes", "no"), default="auto",
                    help="JAX unrolled-loop peer at H=32 (auto: full run only)")
    ap.add_argument("--unrolled-timeout", type=float, default=600.0, help="limit for its compile (s)")
    ap.add_argument("--require-srcgrad", action="store_true", help="exit with code 3 if srcgrad failed")
    ap.add_argument("--out", default=None, help="output path stem (default bench/results/rnn or rnn_quick)")
    ap.add_argument("--tiny", action="store_true", help="H = 4, T = 30, 2 repeats, no fresh processes (tests)")
    ap.add_argument("--all-peers", action="store_true",
                    help="instead: every peer (PyTorch, autograd, tangent too) through bench/runner.py "
                         "(writes rnn_peers.json)")
    ap.add_argument("--no-subprocess", action="store_true", help="with --all-peers: no fresh-process measurements")
    ap.add_argument("--startup-pairs", type=int, default=None,
                    help="fresh-process first calls per peer (default 3, quick 1, tiny 0)")
    ap.add_argument("--out-dir", default=None, help="where the JSON and PNG go (default bench/results)")
    opts = ap.parse_args(argv)
    if opts.all_peers:
        from bench import runner
        mode = "tiny" if opts.tiny else ("quick" if opts.quick else "full")
        res = runner.run_workload(WORKLOAD, mode, repeats=opts.repeats, out_dir=opts.out_dir,
                                  subprocess_measurements=False if opts.no_subprocess else None)
        return 2 if res["hard_failures"] else 0
    tiny = opts.tiny
    quick = opts.quick or tiny
    if opts.out is None:
        stem = "rnn_tiny" if tiny else ("rnn_quick" if quick else "rnn")
        opts.out = os.path.join(opts.out_dir, stem) if opts.out_dir else str(common.RESULTS_DIR / stem)
    T = 30 if tiny else opts.T
    repeats = opts.repeats or (2 if tiny else 7 if quick else 30)
    hs = [4] if tiny else [32, 128] if quick else [8, 32, 128, 256]
    main_h = 32
    min_sample_s = 2e-4 if tiny else 2e-3 if quick else 1e-2
    startup_pairs = opts.startup_pairs if opts.startup_pairs is not None else (0 if tiny else 1 if quick else 3)
    do_unrolled = jax is not None and (opts.unrolled == "yes" or (opts.unrolled == "auto" and not quick))
    t_begin = time.perf_counter()
    machine = common.machine_info(("numpy", "numba", "llvmlite", "scipy", "jax", "jaxlib", "srcgrad"))

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    notes: list[str] = []
    if JAX_ERROR:
        notes.append(f"jax unavailable: {JAX_ERROR}")

    log("compiling Numba and JAX peers ...")
    warm = rnn_args(4, 5)
    rnn_forward_nb(*warm)
    rnn_hand_adjoint(*warm)
    jfwd = jgrad = None
    if jax is not None:
        jfwd = common.blocking(make_jax_scan_fwd())
        jgrad = common.blocking(make_jax_scan_grad())

    sp = None
    if not opts.skip_srcgrad:
        sp = common.SrcgradPeer(rnn_loss, WRT, log)
        log("building srcgrad gradient of rnn_loss ...")
        sp.build(rnn_args(main_h, 20))
    else:
        notes.append("run with --skip-srcgrad: srcgrad not checked or timed")

    # ---- checks ------------------------------------------------------------------------
    log("checking values and gradients ...")
    checks, hard = [], []
    small_unrolled = make_jax_unrolled_grad_blocking() if jax is not None and not tiny else None
    for (H, Tc) in [(3, 5), (8, 50)]:
        rec, fails = run_checks(H, Tc, sp, jfwd, jgrad, python=True, unrolled=small_unrolled)
        checks.append(rec)
        hard += fails
    for H in hs:
        rec, fails = run_checks(H, T, sp, jfwd, jgrad, python=(H <= 32))
        checks.append(rec)
        hard += fails
    if hard:
        print("\nCHECK FAILED -- non-srcgrad peers disagree; no timings reported.\n", file=sys.stderr)
        for f in hard:
            print(f, file=sys.stderr)
        return 2
    log("  all non-srcgrad checks passed" + (f"; srcgrad: {sp.status}" if sp is not None else ""))

    # ---- tape ---------------------------------------------------------------------------
    tape: dict = {}
    if sp is not None and sp.ok:
        for H in hs:
            try:
                b = int(sp.g.tape_bytes(*rnn_args(H, T)))
                tape[H] = {"bytes": b, "bytes_per_step": b / T, "hand_bytes_per_step": 8 * H}
            except Exception as exc:  # noqa: BLE001
                tape[H] = {"error": common.describe_exception(exc)}
                notes.append(f"srcgrad.tape_bytes raised at H={H}: {common.describe_exception(exc)}")

    # ---- timing -------------------------------------------------------------------------
    timings: dict = {}
    for H in hs:
        log(f"timing H={H}, T={T} ({repeats} repeats) ...")
        args = rnn_args(H, T)
        peers = {"numba_fwd": (rnn_forward_nb, args), "hand_adjoint": (rnn_hand_adjoint, args)}
        if jax is not None:
            jargs = tuple(jnp.asarray(a) for a in args)
            peers["jax_scan_fwd"] = (jfwd, jargs)
            peers["jax_scan_grad"] = (jgrad, jargs)
        if sp is not None and sp.ok:
            peers["srcgrad"] = (sp.g, args)
        timings[H] = common.time_interleaved(peers, repeats, min_sample_s)

    def ratio(H, a, b):
        t = timings[H]
        return t[a]["median"] / t[b]["median"] if a in t and b in t else None

    ratio_defs = {
        "srcgrad/jax_scan_grad": ("srcgrad", "jax_scan_grad"),
        "srcgrad/hand_adjoint": ("srcgrad", "hand_adjoint"),
        "srcgrad/numba_fwd": ("srcgrad", "numba_fwd"),
        "hand_adjoint/numba_fwd": ("hand_adjoint", "numba_fwd"),
        "jax_scan_grad/jax_scan_fwd": ("jax_scan_grad", "jax_scan_fwd"),
        "jax_scan_grad/numba_fwd": ("jax_scan_grad", "numba_fwd"),
    }
    ratios = {H: {name: ratio(H, a, b) for name, (a, b) in ratio_defs.items()} for H in hs}

    # ---- unrolled JAX, first calls ------------------------------------------------------------
    unrolled = None
    if do_unrolled:
        unrolled = _unrolled_run(main_h, T, opts.unrolled_timeout, log)
        unrolled["H"] = main_h
        unrolled["T"] = T
    log("measuring first-call latency in fresh subprocesses ...")
    first_call = _first_call_runs(startup_pairs, main_h, T, sp is not None and sp.ok, log)

    # ---- output ---------------------------------------------------------------------------------
    result = {
        "benchmark": "rnn",
        "description": "grad of sum(w_out * h_T), h = tanh(W @ h + x[t]) for T steps from h = 0, w.r.t. W and x",
        "problem": {"T": T, "hs": hs, "main_H": main_h,
                    "data": "W = 0.9 N(0,1)/sqrt(H), x = 0.5 N(0,1), w_out = N(0,1); numpy default_rng"},
        "config": {"quick": quick, "repeats": repeats, "min_sample_s": min_sample_s, "startup_pairs": startup_pairs,
                   "rtol_same_arith": RTOL_SAME, "rtol_peers": RTOL_PEERS, "floor_rel": FLOOR_REL, "rtol_fd": RTOL_FD,
                   "fd": f"4th-order central along {FD_DIRECTIONS} random unit directions, step 1e-3, Numba forward"},
        "machine": machine,
        "srcgrad_status": None if sp is None else sp.status,
        "srcgrad_failures": None if sp is None else sp.failures,
        "srcgrad_in_process_build_and_first_call_s": None if sp is None else sp.build_and_first_call_s,
        "checks": checks,
        "timings": {str(H): t for H, t in timings.items()},
        "ratios": {str(H): r for H, r in ratios.items()},
        "tape": {str(H): t for H, t in tape.items()},
        "jax_unrolled": unrolled,
        "first_call": first_call,
        "notes": notes,
    }

    plot_peers = [p for p in ("numba_fwd", "hand_adjoint", "jax_scan_fwd", "jax_scan_grad", "srcgrad")
                  if any(p in timings[H] for H in hs)]
    common.loglog_plot(
        opts.out + ".png", hs,
        {p: [timings[H].get(p) for H in hs] for p in plot_peers},
        title=f"RNN h = tanh(W h + x[t]), T={T}: grad w.r.t. W, x",
        xlabel="H (hidden size)",
        ratios={name: [ratios[H][name] for H in hs]
                for name in ("srcgrad/jax_scan_grad", "srcgrad/hand_adjoint", "srcgrad/numba_fwd",
                             "hand_adjoint/numba_fwd", "jax_scan_grad/numba_fwd")
                if any(ratios[H][name] is not None for H in hs)},
        subtitle=f"{machine['cpu_model']}, {machine['cpu_count']} cores; numba {machine['versions']['numba']}, "
                 f"jax {machine['versions']['jax']}; {repeats} repeats; {machine['date_utc']}"
                 + ("" if sp is None else f"; srcgrad: {sp.status.split(':')[0]}"),
    )

    def cell(H, p):
        s = timings[H].get(p)
        return "-" if s is None else f"{common.fmt_time(s['median'])} ({100 * s['iqr'] / s['median']:.0f}%)"

    def fr(x):
        return "-" if x is None else f"{x:.2f}"

    cols = ["numba_fwd", "hand_adjoint", "jax_scan_fwd", "jax_scan_grad", "srcgrad"]
    print()
    print(f"RNN, T={T}: median wall time per call (IQR as % of median; {repeats} repeats)")
    print(common.format_table(["H"] + cols, [[str(H)] + [cell(H, p) for p in cols] for H in hs]))
    print()
    rcols = list(ratio_defs)
    rows = []
    for H in hs:
        tb = tape.get(H, {}).get("bytes_per_step")
        rows.append([str(H)] + [fr(ratios[H][c]) for c in rcols] + ["-" if tb is None else f"{tb:g}", str(8 * H)])
    print(common.format_table(["H"] + rcols + ["srcgrad tape B/step", "hand B/step"], rows))
    if unrolled is not None:
        print(f"\nJAX jit(grad) of the unrolled Python loop, H={main_h}, T={T}: {unrolled['status']}")
        if unrolled.get("status") == "ok":
            print(f"  construct + compile + first call {common.fmt_time(unrolled['first_call_total_s'])}, "
                  f"steady call {common.fmt_time(unrolled['steady_call_median_s'])} (median of 5, in its own process)")
    fc_rows = []
    for key in sorted(k for k in first_call if k.endswith("_summary")):
        s = first_call[key]
        fc_rows.append([key[: -len("_summary")], common.fmt_time(s["first_call_total_s"]["median"]),
                        common.fmt_time(s["process_wall_s"]["median"])])
    if fc_rows:
        print(f"\nFirst call in a fresh process, H={main_h}, T={T} (median of {startup_pairs}; "
              "construct + compile + one call)")
        print(common.format_table(["peer", "construct+1st call", "process wall"], fc_rows))
    if sp is not None:
        print(f"srcgrad: {sp.status}")
    for note in notes:
        print("NOTE:", note)

    result["total_bench_wall_s"] = time.perf_counter() - t_begin
    result["loadavg_at_end_1_5_15"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    warning = common.load_warning(machine)
    if warning:
        print(warning)
        result["notes"].append(warning)
    path = common.write_json(opts.out + ".json", result)
    print(f"\nwrote {path} and {opts.out}.png  ({result['total_bench_wall_s']:.1f} s)")
    if opts.require_srcgrad and (sp is None or not sp.ok):
        return 3
    return 0


WORKLOAD = _make_peers_workload()

if __name__ == "__main__":
    sys.exit(main())
