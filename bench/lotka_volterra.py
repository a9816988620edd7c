"""Benchmark: gradient of an explicit-Euler Lotka-Volterra integration.

Run from the project root::

    python -m bench.lotka_volterra            # full run (~ a few minutes)
    python -m bench.lotka_volterra --quick    # smoke run (< 1 minute)

Workload
--------
The 2-species Lotka-Volterra model (prey ``x``, predator ``y``)::

    dx/dt = alpha*x - beta*x*y
    dy/dt = delta*x*y - gamma*y

integrated with ``n`` explicit Euler steps of size ``h = T/n`` over a fixed
horizon ``T = 10`` (so every ``n`` of the size sweep solves the same problem;
the headline size ``n = 100_000`` has ``h = 1e-4``).  Parameters are the
classic ``alpha = 2/3, beta = 4/3, delta = 1, gamma = 1`` with ``x0 = y0 = 1``
(about 1.6 oscillation periods over ``T``).

Loss: ``L = x(T) + y(T)`` (about 0.97).  Its gradient with respect to
``(alpha, beta, delta, gamma)`` is about ``(-0.665, -0.652, -0.133, -0.927)``
at ``n = 100_000``: all components O(0.1-1) and well away from zero, so
purely relative tolerances are meaningful for every component, and it barely
changes across the sweep (Euler converges), so all sizes are comparable.

Peers (same process, same arguments)
-----------------------------------
* ``forward``      -- ``numba.njit`` of the user function ``lv_loss`` itself (the value only).
* ``hand_adjoint`` -- a hand-written Numba adjoint: forward loop storing ``x`` and ``y``
  before every step in two float64 arrays allocated per call (16 bytes/step),
  then a reverse loop.  This is the practical speed limit for a stateless taped
  gradient, and the reference for the srcgrad/hand ratio.
* ``hand_prealloc`` -- the same adjoint code with its two tape arrays allocated once
  outside and reused on every call.  It shows what the per-call tape allocation
  costs.  Whether a fresh multi-MB tape is page-faulted in on every call depends on
  glibc malloc's state (its dynamic mmap/trim thresholds, which the other peers'
  allocations shift): on the reference machine the allocating adjoint was
  +0% or +35% at n = 1e5 and +0% or +75% at n = 1e6 from one run to the next,
  while the preallocated one stayed put.  Compare run-to-run with that in mind.
* ``srcgrad``      -- ``srcgrad.grad(lv_loss, wrt=(0, 1, 2, 3))``.

Checks (before any timing; the run aborts with exit code 2 if any fails)
----------------------------------------------------------------------
At every size: Numba forward vs the plain-Python function (rtol 1e-12, for
``n <= 1e5``), hand-adjoint value vs forward (1e-12), srcgrad gradient and
``value_and_grad`` vs hand adjoint (rtol 1e-10), and hand adjoint and srcgrad
vs 4th-order central finite differences of the Numba forward (rtol 1e-6,
relative step 1e-3).

Metrics
-------
* wall time per call (``time.perf_counter``): median, min, quartiles, IQR over
  ``repeats`` samples (30; 7 with ``--quick``); each sample is a calibrated
  number of back-to-back calls lasting at least ``min_sample_s``, divided by that
  number; peers are interleaved with rotating order (see ``bench.common.time_interleaved``).
* ratios of medians: gradient/forward for both gradients, srcgrad/hand adjoint.
* srcgrad first-call latency (``srcgrad.grad`` + first call: transform + compile +
  one run) in a fresh subprocess with a fresh empty ``SRCGRAD_CACHE_DIR`` (cold),
  then in a second fresh subprocess reusing it (warm disk cache); Numba's
  compile of the forward and of the hand adjoint in fresh subprocesses for scale.
* tape bytes per step: ``g.tape_bytes(*args) / n`` vs the hand adjoint's 16.
* size sweep ``n`` in 1e3, 1e4, 1e5, 1e6 (1e3..1e5 with ``--quick``).

Output: ``bench/results/lotka_volterra.json``, ``bench/results/lotka_volterra.png``
(``lotka_volterra_quick.*`` with ``--quick``) and a table on stdout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numba
import numpy as np

from bench import common

# --------------------------------------------------------------------------
# the workload
# --------------------------------------------------------------------------

PARAMS = (2.0 / 3.0, 4.0 / 3.0, 1.0, 1.0)  # alpha, beta, delta, gamma
PARAM_NAMES = ("alpha", "beta", "delta", "gamma")
X0 = 1.0
Y0 = 1.0
T_END = 10.0
MAIN_N = 100_000
WRT = (0, 1, 2, 3)
HAND_TAPE_BYTES_PER_STEP = 16  # two float64 per step


def lv_loss(alpha, beta, delta, gamma, x0, y0, h, n):
    """x(T) + y(T) after n explicit Euler steps of Lotka-Volterra (the user function)."""
    x = x0
    y = y0
    for i in range(n):
        dx = alpha * x - beta * x * y
        dy = delta * x * y - gamma * y
        x = x + h * dx
        y = y + h * dy
    return x + y


# Peer 1: the Numba-compiled forward of the very same function.
lv_forward_nb = numba.njit(lv_loss)


# Peer 2: the hand-written adjoint.  The core takes the tape buffers as arguments so that
# the same code serves both the self-contained gradient (allocates its 16 B/step tape on
# every call, like any stateless gradient function) and the buffer-reusing variant.
@numba.njit
def lv_hand_adjoint_prealloc(alpha, beta, delta, gamma, x0, y0, h, n, xs, ys):
    """Hand adjoint using caller-provided tape buffers ``xs``, ``ys`` (length >= n).

    Return (loss, dL/dalpha, dL/dbeta, dL/ddelta, dL/dgamma) of ``lv_loss``.
    """
    x = x0
    y = y0
    for i in range(n):
        xs[i] = x
        ys[i] = y
        dx = alpha * x - beta * x * y
        dy = delta * x * y - gamma * y
        x = x + h * dx
        y = y + h * dy
    loss = x + y
    xb = 1.0
    yb = 1.0
    ab = 0.0
    bb = 0.0
    db = 0.0
    gb = 0.0
    for i in range(n - 1, -1, -1):
        x = xs[i]
        y = ys[i]
        dxb = h * xb  # adjoint of dx
        dyb = h * yb  # adjoint of dy
        xy = x * y
        ab += dxb * x
        bb -= dxb * xy
        db += dyb * xy
        gb -= dyb * y
        # x_new = x + h*dx, y_new = y + h*dy; propagate through dx, dy to x, y
        xb_prev = xb + dxb * (alpha - beta * y) + dyb * delta * y
        yb_prev = yb - dxb * beta * x + dyb * (delta * x - gamma)
        xb = xb_prev
        yb = yb_prev
    return loss, ab, bb, db, gb


@numba.njit
def lv_hand_adjoint(alpha, beta, delta, gamma, x0, y0, h, n):
    """Hand adjoint allocating its tape per call: (loss, dL/dalpha, dL/dbeta, dL/ddelta, dL/dgamma)."""
    xs = np.empty(n)
    ys = np.empty(n)
    return lv_hand_adjoint_prealloc(alpha, beta, delta, gamma, x0, y0, h, n, xs, ys)


def lv_args(n: int) -> tuple:
    """Arguments of ``lv_loss`` for ``n`` steps over the fixed horizon T_END."""
    return (*PARAMS, X0, Y0, T_END / n, int(n))


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------

RTOL_PEERS = 1e-10
RTOL_FD = 1e-6
RTOL_SAME_ARITH = 1e-12


def check_size(n: int, g=None, vg=None, python_max_n: int = 100_000) -> tuple[dict, list[str]]:
    """Run all agreement checks at size n; return (record, failures)."""
    args = lv_args(n)
    rec: dict = {"n": n, "h": args[6]}
    failures: list[str] = []

    def chk(label, got, want, rtol, names=PARAM_NAMES):
        try:
            rec.setdefault("max_rel_err", {})[label] = common.check_close(f"n={n}: {label}", got, want, rtol, names)
        except common.CheckFailed as exc:
            failures.append(str(exc))
            same_shape = np.shape(got) == np.shape(want)
            rec.setdefault("max_rel_err", {})[label] = \
                float(common.rel_err(got, want).max()) if same_shape else None

    v_nb = float(lv_forward_nb(*args))
    rec["value_forward"] = v_nb
    if n <= python_max_n:
        v_py = float(lv_loss(*args))
        rec["value_python"] = v_py
        chk("forward_numba_vs_python", v_nb, v_py, RTOL_SAME_ARITH, ["value"])

    hand = lv_hand_adjoint(*args)
    v_h, g_h = float(hand[0]), np.array(hand[1:], dtype=float)
    rec["value_hand_adjoint"] = v_h
    rec["grad_hand_adjoint"] = g_h.tolist()
    chk("hand_value_vs_forward", v_h, v_nb, RTOL_SAME_ARITH, ["value"])
    pre = lv_hand_adjoint_prealloc(*args, np.empty(n), np.empty(n))
    chk("hand_prealloc_vs_hand", np.array(pre), np.array(hand), RTOL_SAME_ARITH, ("value",) + PARAM_NAMES)

    fd = common.fd4_gradient(lv_forward_nb, args, WRT, rel_step=1e-3)
    rec["grad_fd4"] = fd.tolist()
    chk("hand_grad_vs_fd4", g_h, fd, RTOL_FD)

    if g is not None:
        try:
            g_s = np.array(g(*args), dtype=float)
        except Exception as exc:  # noqa: BLE001
            failures.append(f"n={n}: srcgrad.grad call raised {type(exc).__name__}: {exc}")
        else:
            rec["grad_srcgrad"] = g_s.tolist()
            chk("srcgrad_grad_vs_hand", g_s, g_h, RTOL_PEERS)
            chk("srcgrad_grad_vs_fd4", g_s, fd, RTOL_FD)
    if vg is not None:
        try:
            v_s, g_s2 = vg(*args)
            g_s2 = np.array(g_s2, dtype=float)
        except Exception as exc:  # noqa: BLE001
            failures.append(f"n={n}: srcgrad.value_and_grad call raised {type(exc).__name__}: {exc}")
        else:
            rec["value_srcgrad"] = float(v_s)
            chk("srcgrad_value_vs_forward", float(v_s), v_nb, RTOL_PEERS, ["value"])
            chk("srcgrad_value_and_grad_vs_hand", g_s2, g_h, RTOL_PEERS)
    return rec, failures


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def _first_call_runs(pairs: int, n: int, log) -> dict:
    """Cold/warm srcgrad first-call latency, plus Numba compile of the peers for scale."""
    out: dict = {"n": n, "cold": [], "warm": [], "numba_forward": [], "numba_hand_adjoint": []}
    args = lv_args(n)
    for i in range(pairs):
        cache = tempfile.mkdtemp(prefix="srcgrad-bench-cache-")
        try:
            log(f"  first call, fresh SRCGRAD_CACHE_DIR (cold) [{i + 1}/{pairs}] ...")
            out["cold"].append(common.first_call_subprocess(
                "bench.lotka_volterra", "lv_loss", args, WRT, "srcgrad_grad", cache))
            log(f"  first call, reused SRCGRAD_CACHE_DIR (warm) [{i + 1}/{pairs}] ...")
            out["warm"].append(common.first_call_subprocess(
                "bench.lotka_volterra", "lv_loss", args, WRT, "srcgrad_grad", cache))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    for _ in range(pairs):
        out["numba_forward"].append(common.first_call_subprocess(
            "bench.lotka_volterra", "lv_forward_nb", args, (), "plain"))
        out["numba_hand_adjoint"].append(common.first_call_subprocess(
            "bench.lotka_volterra", "lv_hand_adjoint", args, (), "plain"))
    for key in ("cold", "warm", "numba_forward", "numba_hand_adjoint"):
        runs = out[key]
        if runs:
            out[key + "_summary"] = {
                "first_call_total_s": common.summarize([r["first_call_total_s"] for r in runs]),
                "process_wall_s": common.summarize([r["process_wall_s"] for r in runs]),
            }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.lotka_volterra", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, n up to 1e5, one cold/warm start-up pair")
    ap.add_argument("--repeats", type=int, default=None, help="timing samples per peer and size (default 30, quick 7)")
    ap.add_argument("--skip-srcgrad", action="store_true",
                    help="check and time only the Numba peers (for testing the harness while srcgrad is broken)")
    ap.add_argument("--out", default=None,
                    help="output path stem, .json and .png appended (default bench/results/lotka_volterra, "
                         "or bench/results/lotka_volterra_quick with --quick so a smoke run never "
                         "overwrites full results)")
    opts = ap.parse_args(argv)
    if opts.out is None:
        opts.out = str(common.RESULTS_DIR / ("lotka_volterra_quick" if opts.quick else "lotka_volterra"))

    quick = opts.quick
    repeats = opts.repeats or (7 if quick else 30)
    sizes = [10**3, 10**4, 10**5] if quick else [10**3, 10**4, 10**5, 10**6]
    min_sample_s = 1e-3 if quick else 5e-3
    startup_pairs = 1 if quick else 3
    t_begin = time.perf_counter()
    machine = common.machine_info()  # at start, so its load average describes the run

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    # ---- srcgrad (optional) -------------------------------------------------
    g = vg = None
    tape_supported = None
    notes: list[str] = []
    if not opts.skip_srcgrad:
        import srcgrad  # imported late so --skip-srcgrad works without it
        log("building srcgrad gradient (in-process) ...")
        t0 = time.perf_counter()
        g = srcgrad.grad(lv_loss, wrt=WRT)
        g(*lv_args(1000))
        inproc_first = time.perf_counter() - t0
        vg = srcgrad.value_and_grad(lv_loss, wrt=WRT)
        tape_supported = hasattr(g, "tape_bytes")
        if not tape_supported:
            notes.append("srcgrad gradient object has no tape_bytes(); tape metric missing")
    else:
        notes.append("run with --skip-srcgrad: srcgrad not checked or timed")
        inproc_first = None

    # ---- compile the Numba peers, then check everything ---------------------
    log("compiling Numba peers ...")
    lv_forward_nb(*lv_args(10))
    lv_hand_adjoint(*lv_args(10))
    lv_hand_adjoint_prealloc(*lv_args(10), np.empty(10), np.empty(10))

    log("checking values and gradients ...")
    checks = []
    failures: list[str] = []
    for n in sizes:
        rec, fails = check_size(n, g, vg)
        checks.append(rec)
        failures += fails
    if failures:
        print("\nCHECK FAILED -- peers disagree; no timings reported.\n", file=sys.stderr)
        for f in failures:
            print(f, file=sys.stderr)
        return 2
    log("  all checks passed")

    # ---- tape ---------------------------------------------------------------
    tape = {}
    if g is not None and tape_supported:
        for n in sizes:
            try:
                b = int(g.tape_bytes(*lv_args(n)))
                tape[n] = {"bytes": b, "bytes_per_step": b / n}
            except Exception as exc:  # noqa: BLE001
                tape[n] = {"error": f"{type(exc).__name__}: {exc}"}
                notes.append(f"g.tape_bytes raised at n={n}: {type(exc).__name__}: {exc}")

    # ---- steady-state timing ------------------------------------------------
    timings = {}
    for n in sizes:
        log(f"timing n={n:,} ({repeats} repeats) ...")
        args = lv_args(n)
        peers = {"forward": (lv_forward_nb, args), "hand_adjoint": (lv_hand_adjoint, args),
                 "hand_prealloc": (lv_hand_adjoint_prealloc, (*args, np.empty(n), np.empty(n)))}
        if g is not None:
            peers["srcgrad"] = (g, args)
        timings[n] = common.time_interleaved(peers, repeats, min_sample_s)

    def ratio(n, a, b):
        t = timings[n]
        if a in t and b in t:
            return t[a]["median"] / t[b]["median"]
        return None

    ratios = {
        n: {
            "hand_adjoint/forward": ratio(n, "hand_adjoint", "forward"),
            "hand_prealloc/forward": ratio(n, "hand_prealloc", "forward"),
            "srcgrad/forward": ratio(n, "srcgrad", "forward"),
            "srcgrad/hand_adjoint": ratio(n, "srcgrad", "hand_adjoint"),
            "srcgrad/hand_prealloc": ratio(n, "srcgrad", "hand_prealloc"),
        }
        for n in sizes
    }

    # ---- first-call latency in fresh processes --------------------------------
    first_call = None
    if g is not None:
        log("measuring first-call latency in fresh subprocesses ...")
        try:
            first_call = _first_call_runs(startup_pairs, MAIN_N, log)
        except Exception as exc:  # noqa: BLE001
            notes.append(f"first-call measurement failed: {exc}")
            log(f"  FAILED: {exc}")

    # ---- output ------------------------------------------------------------------
    result = {
        "benchmark": "lotka_volterra",
        "description": "grad of x(T)+y(T) after n explicit Euler steps of 2-species Lotka-Volterra "
                       "w.r.t. (alpha, beta, delta, gamma); T=10, h=T/n",
        "problem": {"params": dict(zip(PARAM_NAMES, PARAMS)), "x0": X0, "y0": Y0, "T": T_END,
                    "main_n": MAIN_N, "loss": "x(T) + y(T)", "wrt": list(PARAM_NAMES)},
        "config": {"quick": quick, "repeats": repeats, "sizes": sizes, "min_sample_s": min_sample_s,
                   "startup_pairs": startup_pairs, "rtol_peers": RTOL_PEERS, "rtol_fd": RTOL_FD,
                   "fd": "4th-order central, relative step 1e-3, on the Numba forward"},
        "machine": machine,
        "checks": checks,
        "timings": {str(n): {p: {k: v for k, v in s.items()} for p, s in t.items()} for n, t in timings.items()},
        "ratios": {str(n): r for n, r in ratios.items()},
        "tape": {"hand_adjoint_bytes_per_step": HAND_TAPE_BYTES_PER_STEP,
                 "srcgrad": {str(n): v for n, v in tape.items()},
                 "srcgrad_tape_bytes_supported": tape_supported},
        "first_call": first_call,
        "in_process_first_call_s_n1000": inproc_first,
        "notes": notes,
        "total_bench_wall_s": None,
    }

    peer_names = ["forward", "hand_adjoint", "hand_prealloc"] + (["srcgrad"] if g is not None else [])
    common.loglog_plot(
        opts.out + ".png", sizes,
        {p: [timings[n][p] for n in sizes] for p in peer_names},
        title="Lotka-Volterra Euler, grad w.r.t. 4 params",
        xlabel="n (Euler steps, T=10 fixed)",
        ratios={k: [ratios[n][k] for n in sizes] for k in ("hand_adjoint/forward", "srcgrad/forward",
                                                          "srcgrad/hand_adjoint") if ratios[sizes[0]][k] is not None},
        subtitle=f"{result['machine']['cpu_model']}, {result['machine']['cpu_count']} cores; "
                 f"numba {result['machine']['versions']['numba']}; {repeats} repeats; {result['machine']['date_utc']}",
    )

    # ---- table --------------------------------------------------------------------
    def cell(n, p):
        s = timings[n].get(p)
        if s is None:
            return "-"
        return f"{common.fmt_time(s['median'])} ({100 * s['iqr'] / s['median']:.0f}%)"

    def fr(x):
        return "-" if x is None else f"{x:.2f}"

    rows = []
    rows2 = []
    for n in sizes:
        tb = tape.get(n, {}).get("bytes_per_step")
        rows.append([f"{n:,}"] + [cell(n, p) for p in ("forward", "hand_adjoint", "hand_prealloc", "srcgrad")])
        r = ratios[n]
        rows2.append([f"{n:,}", fr(r["hand_adjoint/forward"]), fr(r["hand_prealloc/forward"]),
                      fr(r["srcgrad/forward"]), fr(r["srcgrad/hand_adjoint"]), fr(r["srcgrad/hand_prealloc"]),
                      "-" if tb is None else f"{tb:g}"])
    print()
    print("Lotka-Volterra Euler, grad of x(T)+y(T) w.r.t. 4 params "
          f"(median wall time per call, IQR as % of median; {repeats} repeats)")
    print(common.format_table(["n", "forward", "hand adjoint", "hand prealloc", "srcgrad"], rows))
    print()
    print(common.format_table(["n", "hand/fwd", "prealloc/fwd", "srcgrad/fwd", "srcgrad/hand",
                               "srcgrad/prealloc", "srcgrad tape B/step"], rows2))
    print(f"hand adjoint tape: {HAND_TAPE_BYTES_PER_STEP} B/step")
    if first_call:
        print(f"\nFirst call in a fresh process, n={MAIN_N:,} (median of {startup_pairs}; "
              "construct+first call = transform+compile+one run; process = whole subprocess incl. imports)")
        fc_rows = []
        for key, label in (("cold", "srcgrad, empty cache dir"), ("warm", "srcgrad, warm cache dir"),
                           ("numba_forward", "numba.njit forward"), ("numba_hand_adjoint", "numba.njit hand adjoint")):
            runs = first_call.get(key) or []
            if not runs:
                continue
            fc_rows.append([label] + [common.fmt_time(float(np.median([r[k] for r in runs])))
                                      for k in ("first_call_total_s", "first_call_overhead_s",
                                                "steady_call_median_s", "process_wall_s")])
        print(common.format_table(["peer", "construct+1st call", "minus steady call", "steady call",
                                   "process wall"], fc_rows))
    for note in notes:
        print("NOTE:", note)

    result["total_bench_wall_s"] = time.perf_counter() - t_begin
    result["loadavg_at_end_1_5_15"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    load = result["machine"]["loadavg_1_5_15"]
    if load and load[0] > 0.75 * (os.cpu_count() or 1):
        print(f"WARNING: 1-minute load average was {load[0]:.2f} at start (includes any run that just "
              "ended); if other processes were busy, timings may be noisy.")
    path = common.write_json(opts.out + ".json", result)
    print(f"\nwrote {path} and {opts.out}.png  ({result['total_bench_wall_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
