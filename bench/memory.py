"""Benchmark "memory": gradients of long loops within a memory limit (``tape_limit``).

Run from the project root::

    python -m bench.memory --save     # full run (about 5 minutes on 2 cores): bench/results/memory.json + .png
    python -m bench.memory --quick    # small sizes (well under a minute), into bench/results/local/
    python -m bench.memory --tiny     # smallest sizes, all in this process (peaks mixed; for tests)

What it measures
----------------
``srcgrad.grad(f, wrt, tape_limit=L)`` reverses the top-level loops of ``f`` with
checkpointing so that tape + checkpoints stay within ``L`` bytes. Every configuration
(workload, size, limit) runs in a fresh interpreter (``python -m bench.memory --child
SPEC``), so that peaks do not mix:

1. it compiles the gradient with a throw-away ``GradFunction`` at a small size (the
   compiled code is shared, the measured gradient's state is not);
2. it makes a fresh gradient, resets the kernel's peak counter (``/proc/self/clear_refs``,
   as ``bench.common.peak_rss_of_call`` does) and reads ``VmRSS`` as the *baseline*;
3. it calls the gradient ``calls`` times at the measured size. The first call of a
   gradient with a limit reverses one iteration per unit and measures the tape; the
   later ones use bigger units, so the *steady* time is the median of the calls after the
   first two. For every call: its wall time, ``VmHWM - baseline`` (*peak extra*: the
   extra resident memory at the call's peak, counting buffers the gradient keeps from
   call to call) and the ``TapeInfo``.

Workloads (written as a user would, below): Lotka-Volterra (explicit Euler, a scalar
``for`` loop, 16 bytes of state), a 1-D heat stencil (256 points, one array copy per
step; about 20 KB of tape per step) and ``relax``, a ``while`` loop whose trip count is
known only at run time. Peers: the unlimited-tape gradient (``tape_limit=None``) and
JAX's ``jax.checkpoint`` over ``lax.scan`` (flat, and the nested sqrt(n) x sqrt(n)
recipe). Recomputation is compared with Revolve's optimum
(``srcgrad.runtime.checkpoint.revolve_forward_steps``).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import os
import subprocess
import sys
import time
import traceback

import numpy as np

from bench import common

NAME = "memory"
TITLE = "Gradients within a memory limit (tape_limit)"

# --------------------------------------------------------------------------
# the workloads, as a user writes them (Lotka-Volterra: bench/lotka_volterra.py's)
# --------------------------------------------------------------------------

from bench.lotka_volterra import lv_loss as lotka_volterra  # noqa: E402


def heat(u, c, n):
    for t in range(n):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + c * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u * u)


def relax(x, tol):
    s = x
    k = 0
    while abs(s) > tol:
        s = math.sin(s) * 0.999
        k += 1
    return s + 0.0 * k


def rotate(v, n):
    for i in range(n):
        w = v.copy()
        w[0] = v[0] + 0.001 * v[1]
        w[1] = v[1] - 0.001 * v[0]
        v = w
    return v[0] + v[1]


def lv_args(n):
    n = int(n)
    return (2.0 / 3.0, 4.0 / 3.0, 1.0, 1.0, 1.0, 1.0, 10.0 / n, n)


def heat_args(n):
    return (np.sin(np.linspace(0.0, np.pi, 256)), 0.25, int(n))


def rotate_args(n):
    return (np.array([1.0, 0.0]), int(n))


def relax_args(tol):
    return (1.0, float(tol))


def relax_iterations(tol: float, x: float = 1.0) -> int:
    """The trip count of ``relax`` (plain Python)."""
    s, k = x, 0
    while abs(s) > tol:
        s = math.sin(s) * 0.999
        k += 1
    return k


# name: (function, wrt, args(size), warm-up size, what the size is)
WORKLOADS = {
    "lv": (lotka_volterra, (0, 1, 2, 3), lv_args, 1000, "n (Euler steps)"),
    "heat": (heat, (0, 1), heat_args, 50, "n (time steps, 256 points)"),
    "relax": (relax, 0, relax_args, 1e-2, "tol"),
    "rotate": (rotate, 0, rotate_args, 100, "n (steps carrying a 2-element array)"),
}


def jax_lv_loss(n: int, mode: str):
    """Lotka-Volterra as JAX: ``lax.scan`` over n steps, the body plain (``scan``), wrapped in
    ``jax.checkpoint`` (``ckpt_scan``), or a scan of ``n1`` checkpointed outer steps each scanning ``n2``
    inner steps, n1 * n2 = n, n1 ~ sqrt(n) (``nested``, the usual JAX recipe)."""
    import jax
    from jax import lax

    def loss(alpha, beta, delta, gamma, x0, y0, h):
        def step(carry, _):
            x, y = carry
            dx = alpha * x - beta * x * y
            dy = delta * x * y - gamma * y
            return (x + h * dx, y + h * dy), None

        if mode == "scan":
            (x, y), _ = lax.scan(step, (x0, y0), None, length=n)
        elif mode == "ckpt_scan":
            (x, y), _ = lax.scan(jax.checkpoint(step), (x0, y0), None, length=n)
        elif mode == "nested":
            n1, n2 = nested_split(n)

            def outer(carry, _):
                c, _ = lax.scan(step, carry, None, length=n2)
                return c, None

            (x, y), _ = lax.scan(jax.checkpoint(outer), (x0, y0), None, length=n1)
        else:
            raise ValueError(mode)
        return x + y

    return loss


def nested_split(n: int) -> tuple[int, int]:
    """(outer, inner) with outer * inner = n and outer the divisor of n closest to sqrt(n)."""
    r = int(math.isqrt(n))
    best = min((d for d in range(1, 2 * r + 2) if n % d == 0), key=lambda d: abs(d - math.sqrt(n)))
    return best, n // best


# --------------------------------------------------------------------------
# the child: one configuration in a fresh process
# --------------------------------------------------------------------------


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _flat(out) -> list[float]:
    if isinstance(out, tuple):
        return [float(v) for part in out for v in np.ravel(np.asarray(part, dtype=float))]
    return [float(v) for v in np.ravel(np.asarray(out, dtype=float))]


def _measure_calls(call, ncalls: int, info=None) -> tuple[list[dict], object, dict]:
    """Call ``call()`` ``ncalls`` times: per call the wall time and peaks against the baseline."""
    gc.collect()
    resettable = _reset_peak()
    base = common.memory_status().get("VmRSS", 0)
    recs = []
    out = None
    for _ in range(ncalls):
        out = None
        gc.collect()
        _reset_peak()
        before = common.memory_status().get("VmRSS", 0)
        t0 = time.perf_counter()
        out = call()
        dt = time.perf_counter() - t0
        st = common.memory_status()
        rec = {"time_s": dt,
               "peak_extra_bytes": st.get("VmHWM", 0) - base,
               "call_peak_extra_bytes": st.get("VmHWM", 0) - before,
               "rss_after_extra_bytes": st.get("VmRSS", 0) - base}
        if info is not None:
            rec["tape_info"] = info()
        recs.append(rec)
    return recs, out, {"baseline_rss_bytes": base, "peak_reset": resettable}


def child_srcgrad(spec: dict) -> dict:
    t0 = time.perf_counter()
    import srcgrad
    fn, wrt, make_args, warm, _ = WORKLOADS[spec["workload"]]
    limit = spec.get("tape_limit")
    gw = srcgrad.grad(fn, wrt=wrt, tape_limit=limit)  # compiles; its unit and buffers stay with it
    gw(*make_args(warm))
    gw(*make_args(warm))
    del gw
    compile_s = time.perf_counter() - t0
    g = srcgrad.grad(fn, wrt=wrt, tape_limit=limit)
    args = make_args(spec["size"])
    info = (lambda: dataclasses.asdict(g._ck.last)) if limit is not None else None
    calls, out, base = _measure_calls(lambda: g(*args), spec["calls"], info)
    res = {"calls": calls, "grad": _flat(out), "setup_s": compile_s, **base}
    if limit is None and spec.get("tape_bytes"):
        res["tape_bytes"] = int(g.tape_bytes(*args))
    return res


def child_jax(spec: dict) -> dict:
    t0 = time.perf_counter()
    import jax
    jax.config.update("jax_enable_x64", True)
    n = int(spec["size"])
    f = jax.jit(jax.grad(jax_lv_loss(n, spec["mode"]), argnums=(0, 1, 2, 3)))
    args = lv_args(n)[:7]
    compiled = f.lower(*args).compile()
    setup_s = time.perf_counter() - t0
    calls, out, base = _measure_calls(lambda: jax.block_until_ready(compiled(*args)), spec["calls"])
    return {"calls": calls, "grad": _flat(tuple(np.asarray(v) for v in out)), "setup_s": setup_s,
            "jax_version": jax.__version__, **base}


def child_jax_while(spec: dict) -> dict:
    """What JAX does with ``relax``: reverse mode through ``lax.while_loop`` (and the same loop as a Python
    ``while`` under jit) fails; forward mode works."""
    import jax
    import jax.numpy as jnp
    from jax import lax
    jax.config.update("jax_enable_x64", True)

    def relax_jax(x, tol):
        def cond(c):
            return jnp.abs(c[0]) > tol

        def body(c):
            return jnp.sin(c[0]) * 0.999, c[1] + 1

        s, k = lax.while_loop(cond, body, (x, 0))
        return s + 0.0 * k

    out = {"jax_version": jax.__version__}
    tol = spec["size"]
    try:
        out["grad_while_loop"] = float(jax.jit(jax.grad(relax_jax))(1.0, tol))
    except Exception as exc:  # noqa: BLE001 - the error is the result
        out["grad_while_loop_error"] = common.describe_exception(exc, 400)
    try:
        out["grad_python_while_under_jit"] = float(jax.jit(jax.grad(relax))(1.0, tol))
    except Exception as exc:  # noqa: BLE001
        out["grad_python_while_under_jit_error"] = common.describe_exception(exc, 400)
    try:
        primal, tangent = jax.jit(lambda x: jax.jvp(lambda z: relax_jax(z, tol), (x,), (1.0,)))(1.0)
        out["jvp_while_loop"] = float(tangent)
    except Exception as exc:  # noqa: BLE001
        out["jvp_while_loop_error"] = common.describe_exception(exc, 400)
    return out


def _slot_bytes(srcgrad, fn, wrt, args) -> int:
    """Bytes of one checkpoint slot (state + position) of ``fn``: a first call with room for a slot per
    iteration stores one per iteration, all held at once."""
    g = srcgrad.grad(fn, wrt=wrt, tape_limit="64MB")
    g(*args)
    ti = g._ck.last
    per = ti.checkpoint_bytes // ti.checkpoints
    if per * ti.checkpoints != ti.checkpoint_bytes or ti.recomputed:
        raise RuntimeError(f"cannot tell the bytes of a slot from {ti}")
    return per


def child_recompute(spec: dict) -> dict:
    """First calls (unit = 1) of fresh gradients under tiny limits: recomputation against Revolve."""
    import srcgrad
    from srcgrad.runtime.checkpoint import revolve_forward_steps
    rows = []
    slot = {}
    for wl, size, limit in spec["cases"]:
        fn, wrt, make_args, _, _ = WORKLOADS[wl]
        args = make_args(size)
        if wl not in slot:
            slot[wl] = _slot_bytes(srcgrad, fn, wrt, make_args(WORKLOADS[wl][3]))
        want = _flat(srcgrad.grad(fn, wrt=wrt)(*args))
        g = srcgrad.grad(fn, wrt=wrt, tape_limit=limit)
        row = {"workload": wl, "size": size, "tape_limit": limit}
        try:
            got = _flat(g(*args))
        except Exception as exc:  # noqa: BLE001 - a limit too small is a result
            row["error"] = common.describe_exception(exc)
            rows.append(row)
            continue
        ti = g._ck.last
        n = ti.iterations
        slots = ti.checkpoint_bytes // slot[wl]
        opt = int(revolve_forward_steps(n, slots - 1))
        row.update({
            "schedule": "binomial (for loop, trip count known)" if wl == "lv" else "online (while loop)",
            "iterations": n, "unit": ti.unit, "peak_slots": int(slots), "slot_bytes": slot[wl],
            "checkpoints_stored": ti.checkpoints, "recomputed": ti.recomputed,
            "untaped_total": n + ti.recomputed, "revolve_forward_steps": opt,
            "excess_over_revolve": n + ti.recomputed - opt,
            "excess_over_revolve_rel": (n + ti.recomputed - opt) / max(opt, 1),
            "peak_bytes": ti.peak_bytes,
            "grad_max_rel_err_vs_unlimited": float(np.max(common.rel_err(got, want))),
        })
        if wl == "lv":
            tail = n - forward_chain(n, int(slots))
            row["forward_tail"] = tail
            row["reverse_sweep_optimal"] = row["excess_over_revolve"] == tail
        rows.append(row)
    return {"rows": rows}


def forward_chain(n: int, slots: int) -> int:
    """Where the forward sweep of the binomial schedule stores its last checkpoint (the units before it are
    the part of the forward sweep Revolve also runs): srcgrad's ``ck_plan_next`` with ``slots`` slots,
    replayed (compiled with Numba: the chain of a long loop has millions of checkpoints)."""
    global _FORWARD_CHAIN
    if _FORWARD_CHAIN is None:
        import numba
        from srcgrad.runtime.checkpoint import binomial_split

        @numba.njit(cache=False)
        def chain(n, slots):
            a, top = 0, 0
            while True:
                units, free = n - a, slots - 1 - top
                if units < 2 or free < 1:
                    return a
                a += binomial_split(units, free)
                top += 1

        _FORWARD_CHAIN = chain
    return int(_FORWARD_CHAIN(int(n), int(slots)))


_FORWARD_CHAIN = None


CHILDREN = {"srcgrad": child_srcgrad, "jax": child_jax, "jax_while": child_jax_while,
            "recompute": child_recompute}


def child_main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    try:
        res = CHILDREN[spec["kind"]](spec)
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        traceback.print_exc()
        res = {"error": common.describe_exception(exc)}
    print("@@RESULT@@" + json.dumps(common._jsonable(res)), flush=True)
    return 0


# --------------------------------------------------------------------------
# the parent: configurations, checks, goals, plot
# --------------------------------------------------------------------------


def run_config(spec: dict, fresh: bool, timeout: float = 900.0) -> dict:
    """Run one configuration (in a fresh interpreter unless ``fresh`` is False) and return its result
    with ``spec`` and the process wall time."""
    label = spec["id"]
    print(f"  {label} ...", end="", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    # the unlimited gradient is the plain taped one, whatever the default limit of this machine
    extra_env = {"SRCGRAD_TAPE_LIMIT": "none"} if spec["kind"] == "srcgrad" and spec["tape_limit"] is None else {}
    if not fresh:
        saved = {k: os.environ.get(k) for k in extra_env}
        os.environ.update(extra_env)
        try:
            res = CHILDREN[spec["kind"]](spec)
        except Exception as exc:  # noqa: BLE001
            res = {"error": common.describe_exception(exc)}
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    else:
        env = dict(os.environ)
        env.update(extra_env)
        env["PYTHONPATH"] = os.pathsep.join([str(common.PROJECT_ROOT)]
                                            + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env.setdefault("SRCGRAD_QUIET", "1")
        try:
            proc = subprocess.run([sys.executable, "-m", "bench.memory", "--child", json.dumps(spec)],
                                  cwd=str(common.PROJECT_ROOT), env=env, capture_output=True, text=True,
                                  timeout=timeout, check=False)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")), None)
            if line is None:
                res = {"error": f"child exited with {proc.returncode} and no result",
                       "stderr_tail": proc.stderr[-3000:]}
            else:
                res = json.loads(line[len("@@RESULT@@"):])
                if "error" in res:
                    res["stderr_tail"] = proc.stderr[-3000:]
        except subprocess.TimeoutExpired:
            res = {"error": f"timed out after {timeout:.0f} s"}
    res["process_wall_s"] = time.perf_counter() - t0
    res["spec"] = spec
    if "calls" in res:
        _summarize_calls(res)
    status = res.get("error") or (f"steady {common.fmt_time(res.get('steady_s'))}, peak extra "
                                  f"{common.fmt_bytes(res.get('peak_extra_bytes'))}" if "calls" in res else "ok")
    print(f" {status} ({res['process_wall_s']:.1f} s)", file=sys.stderr, flush=True)
    return res


def _summarize_calls(res: dict) -> None:
    calls = res["calls"]
    times = [c["time_s"] for c in calls]
    steady = times[2:] if len(times) > 2 else times[-1:]
    res["first_call_s"] = times[0]
    res["steady_s"] = float(np.median(steady))
    res["steady_samples"] = len(steady)
    res["peak_extra_bytes"] = max(c["peak_extra_bytes"] for c in calls)
    res["steady_peak_extra_bytes"] = max(c["peak_extra_bytes"] for c in (calls[2:] or calls[-1:]))
    res["first_call_peak_extra_bytes"] = calls[0]["peak_extra_bytes"]
    if "tape_info" in calls[-1]:
        res["tape_info"] = calls[-1]["tape_info"]
        res["first_call_tape_info"] = calls[0]["tape_info"]
        res["tape_info_peak_bytes_max"] = max(c["tape_info"]["peak_bytes"] for c in calls)


SIZES = {
    "full": {"lv_big": 10**8, "lv_ref": 10**7, "lv_sweep": 10**7, "heat": 10**5, "heat_ref": 10**4,
             "relax_tol": 1e-300, "jax_ns": [10**6, 10**7], "jax_nested_big": 10**8,
             "recompute": [("lv", 1000, lim) for lim in (300, 600, 1000, 2000)]
             + [("lv", 10**4, lim) for lim in (300, 600, 1000, 2000)]
             + [("relax", 1e-2, lim) for lim in (600, 1000, 2000)]
             + [("relax", 1e-6, lim) for lim in (600, 1000, 2000)],
             "sweep_limits": ["16KB", "64KB", "256KB", "1MB", "4MB", "16MB", "64MB"],
             "lv_limit": "64MB", "heat_limit": "16MB", "relax_limit": "1MB",
             "rotate": 10**6, "rotate_limit": "16MB",
             "calls": 5, "big_unlimited": True},
    "quick": {"lv_big": 10**6, "lv_ref": 10**5, "lv_sweep": 10**5, "heat": 2000, "heat_ref": 200,
              "relax_tol": 1e-50, "jax_ns": [10**5], "jax_nested_big": None,
              "recompute": [("lv", 1000, lim) for lim in (300, 1000)] + [("relax", 1e-2, 1000)],
              "sweep_limits": ["16KB", "256KB", "1MB"],
              "lv_limit": "1MB", "heat_limit": "4MB", "relax_limit": "64KB",
              "rotate": 10**5, "rotate_limit": "1MB",
              "calls": 4, "big_unlimited": False},
    "tiny": {"lv_big": 10**4, "lv_ref": 10**3, "lv_sweep": 10**3, "heat": 100, "heat_ref": 10,
             "relax_tol": 1e-5, "jax_ns": [], "jax_nested_big": None,
             "recompute": [("lv", 200, 300)],
             "sweep_limits": ["16KB"],
             "lv_limit": "16KB", "heat_limit": "1MB", "relax_limit": "4KB",
             "rotate": 2000, "rotate_limit": "16KB",
             "calls": 3, "big_unlimited": False},
}


def configurations(mode: str, calls: int | None) -> list[dict]:
    z = SIZES[mode]
    nc = calls or z["calls"]
    big_calls = max(3, nc - 2)
    cfg = []

    def sg(cid, wl, size, limit, ncalls=nc, **kw):
        cfg.append({"id": cid, "kind": "srcgrad", "workload": wl, "size": size, "tape_limit": limit,
                    "calls": ncalls, **kw})

    # Lotka-Volterra: the goal configuration and its references
    sg("lv_limited_big", "lv", z["lv_big"], z["lv_limit"])
    sg("lv_unlimited_ref", "lv", z["lv_ref"], None, tape_bytes=True)
    if z["big_unlimited"]:
        sg("lv_unlimited_big", "lv", z["lv_big"], None, big_calls)
    for lim in z["sweep_limits"]:
        sg(f"lv_sweep_{lim}", "lv", z["lv_sweep"], lim)
    # the stencil
    sg("heat_limited", "heat", z["heat"], z["heat_limit"], max(4, nc - 1))
    sg("heat_unlimited_ref", "heat", z["heat_ref"], None, tape_bytes=True)
    if z["big_unlimited"]:
        sg("heat_unlimited_big", "heat", z["heat"], None, big_calls, tape_bytes=True)
    # the while loop
    sg("relax_limited", "relax", z["relax_tol"], z["relax_limit"])
    sg("relax_unlimited", "relax", z["relax_tol"], None, tape_bytes=True)
    # a loop carrying a small array: what the limit counts against what the arrays cost
    sg("rotate_limited", "rotate", z["rotate"], z["rotate_limit"], max(3, nc - 1))
    sg("rotate_unlimited", "rotate", z["rotate"], None, 3, tape_bytes=True)
    # JAX
    for n in z["jax_ns"]:
        for m in ("scan", "ckpt_scan", "nested"):
            cfg.append({"id": f"jax_{m}_{n:.0e}", "kind": "jax", "mode": m, "size": n, "calls": nc})
    if z["jax_nested_big"]:
        n = z["jax_nested_big"]
        cfg.append({"id": f"jax_nested_{n:.0e}", "kind": "jax", "mode": "nested", "size": n, "calls": 3})
    cfg.append({"id": "jax_while", "kind": "jax_while", "size": 1e-3})
    cfg.append({"id": "recompute", "kind": "recompute", "cases": z["recompute"]})
    return cfg


def _rel(got, want) -> float | None:
    if got is None or want is None or len(got) != len(want):
        return None
    return float(np.max(common.rel_err(got, want)))


def _scaled(got, want) -> float | None:
    if got is None or want is None or len(got) != len(want):
        return None
    return float(np.max(common.scaled_err(got, want, 1e-6)))


def analyse(runs: dict, mode: str) -> dict:
    """Checks and goals from the runs (missing runs give None and an unmet goal)."""
    from srcgrad.tapelimit import parse_limit
    z = SIZES[mode]
    g = lambda cid, key, default=None: runs.get(cid, {}).get(key, default)  # noqa: E731
    out = {"goals": [], "checks": {}}
    const = 8 * 2**20   # the allowance for "plus a constant" (bytes)

    # --- Lotka-Volterra
    lim = parse_limit(z["lv_limit"])
    peak = g("lv_limited_big", "peak_extra_bytes")
    out["goals"].append({
        "goal": f"LV n={z['lv_big']:.0e}, tape_limit={z['lv_limit']}: peak extra memory <= limit + constant",
        "value_bytes": peak, "limit_bytes": lim, "constant_allowed_bytes": const,
        "tape_info_peak_bytes": g("lv_limited_big", "tape_info_peak_bytes_max"),
        "unlimited_tape_would_be_bytes": 16 * z["lv_big"],
        "met": peak is not None and peak <= lim + const})
    ref = g("lv_unlimited_ref", "grad")
    errs = {cid: _rel(r.get("grad"), ref) for cid, r in runs.items()
            if cid.startswith("lv_sweep_") and r.get("spec", {}).get("size") == z["lv_ref"]}
    worst = max((e for e in errs.values() if e is not None), default=None)
    out["goals"].append({
        "goal": f"LV n={z['lv_ref']:.0e}: checkpointed gradient (every limit of the sweep) equals the unlimited "
                "one to 1e-12 relative",
        "max_rel_err": worst, "per_limit": errs,
        "met": worst is not None and worst <= 1e-12 and all(e is not None for e in errs.values())})
    if "lv_unlimited_big" in runs:
        out["checks"]["lv_big_limited_vs_unlimited_max_rel_err"] = _rel(g("lv_limited_big", "grad"),
                                                                        g("lv_unlimited_big", "grad"))
    t_big = g("lv_limited_big", "steady_s")
    t_ref = g("lv_unlimited_ref", "steady_s")
    scale = z["lv_big"] / z["lv_ref"]
    ratio = t_big / (scale * t_ref) if t_big and t_ref else None
    out["goals"].append({
        "goal": f"LV: time at n={z['lv_big']:.0e} with {z['lv_limit']} <= 3 x the unlimited gradient at "
                f"n={z['lv_ref']:.0e} scaled by {scale:g}",
        "limited_big_steady_s": t_big, "limited_big_first_call_s": g("lv_limited_big", "first_call_s"),
        "unlimited_ref_steady_s": t_ref, "unlimited_ref_scaled_s": None if t_ref is None else scale * t_ref,
        "unlimited_big_steady_s": g("lv_unlimited_big", "steady_s"),
        "per_step_limited_ns": None if t_big is None else 1e9 * t_big / z["lv_big"],
        "per_step_unlimited_ns": None if t_ref is None else 1e9 * t_ref / z["lv_ref"],
        "ratio": ratio, "met": ratio is not None and ratio <= 3.0})
    out["checks"]["lv_unlimited_ref_peak_extra_bytes"] = g("lv_unlimited_ref", "peak_extra_bytes")
    out["checks"]["lv_unlimited_ref_tape_bytes"] = g("lv_unlimited_ref", "tape_bytes")

    # --- the stencil and the while loop
    for wl, size, limit_s, ref_id, big_id in (
            ("heat", z["heat"], z["heat_limit"], "heat_unlimited_ref", "heat_unlimited_big"),
            ("relax", z["relax_tol"], z["relax_limit"], "relax_unlimited", "relax_unlimited"),
            ("rotate", z["rotate"], z["rotate_limit"], "rotate_unlimited", "rotate_unlimited")):
        cid = f"{wl}_limited"
        limit = parse_limit(limit_s)
        peak = g(cid, "peak_extra_bytes")
        t = g(cid, "steady_s")
        ref_t = g(ref_id, "steady_s")
        ref_size = runs.get(ref_id, {}).get("spec", {}).get("size")
        scale = (size / ref_size) if wl == "heat" and ref_size else 1.0
        same = runs.get(big_id, {}).get("grad")
        row = {"goal": f"{wl} ({WORKLOADS[wl][4]}={size:g}) within tape_limit={limit_s}: peak extra <= limit + "
                       "constant; time, checkpoints and recomputation reported",
               "limit_bytes": limit, "value_bytes": peak, "constant_allowed_bytes": const,
               "first_call_peak_extra_bytes": g(cid, "first_call_peak_extra_bytes"),
               "steady_peak_extra_bytes": g(cid, "steady_peak_extra_bytes"),
               "tape_info_peak_bytes": g(cid, "tape_info_peak_bytes_max"),
               "steady_s": t, "first_call_s": g(cid, "first_call_s"),
               "tape_info": g(cid, "tape_info"), "first_call_tape_info": g(cid, "first_call_tape_info"),
               "unlimited_ref_size": ref_size, "unlimited_ref_steady_s": ref_t,
               "unlimited_ref_scaled_s": None if ref_t is None else scale * ref_t,
               "unlimited_ref_tape_bytes": g(ref_id, "tape_bytes"),
               "unlimited_ref_peak_extra_bytes": g(ref_id, "peak_extra_bytes"),
               "unlimited_same_size_steady_s": runs.get(big_id, {}).get("steady_s"),
               "unlimited_same_size_peak_extra_bytes": runs.get(big_id, {}).get("peak_extra_bytes"),
               "unlimited_same_size_tape_bytes": runs.get(big_id, {}).get("tape_bytes"),
               "grad_scaled_err_vs_unlimited_same_size": _scaled(g(cid, "grad"), same),
               "met": peak is not None and peak <= limit + const}
        if t and ref_t:
            row["time_ratio_vs_unlimited_scaled"] = t / (scale * ref_t)
        if wl == "rotate":
            row["goal"] = ("(not in the issue; a check of what the limit counts) " + row["goal"].split(":")[0]
                           + ": peak extra <= limit + constant")
        out["goals"].append(row)

    # --- recomputation against Revolve
    rows = runs.get("recompute", {}).get("rows", [])
    bin_rows = [r for r in rows if r.get("schedule", "").startswith("binomial")]
    worst_bin = max((r["excess_over_revolve"] for r in bin_rows), default=None)
    big_first = g("lv_limited_big", "first_call_tape_info")
    big_row = None
    if big_first:
        from srcgrad.runtime.checkpoint import revolve_forward_steps
        n = big_first["iterations"]
        slots = big_first["checkpoint_bytes"] // 24
        opt = int(revolve_forward_steps(n, slots - 1))
        big_row = {"workload": "lv", "size": n, "tape_limit": z["lv_limit"], "schedule": "binomial, first call",
                   "iterations": n, "unit": big_first["unit"], "peak_slots": slots, "slot_bytes": 24,
                   "checkpoints_stored": big_first["checkpoints"], "recomputed": big_first["recomputed"],
                   "untaped_total": n + big_first["recomputed"], "revolve_forward_steps": opt,
                   "excess_over_revolve": n + big_first["recomputed"] - opt,
                   "excess_over_revolve_rel": (n + big_first["recomputed"] - opt) / max(opt, 1),
                   "peak_bytes": big_first["peak_bytes"]}
        tail = n - forward_chain(n, slots)
        big_row["forward_tail"] = tail
        big_row["reverse_sweep_optimal"] = big_row["excess_over_revolve"] == tail
        if big_first["unit"] != 1:
            big_row["note"] = "not unit=1: iterations counted as units would be wrong"
    out["recompute_big_first_call"] = big_row
    out["goals"].append({
        "goal": "recomputation (for loop, first call, unit = 1) against Revolve's optimum for the same "
                "number of checkpoint slots",
        "worst_excess_iterations": worst_bin,
        "worst_excess_rel": max((r["excess_over_revolve_rel"] for r in bin_rows), default=None),
        "all_reverse_sweeps_optimal": bool(bin_rows) and all(r.get("reverse_sweep_optimal") for r in bin_rows),
        "met": bool(bin_rows) and all(r.get("reverse_sweep_optimal") for r in bin_rows)})
    return out


RECOMPUTE_MEANING = {
    "iterations": "n: iterations of the loop (= units, the first call of a fresh gradient reverses one "
                  "iteration per unit)",
    "tape_limit": "the limit in bytes",
    "peak_slots": "the most checkpoint slots held at once (slot 0, the loop's entry, included): "
                  "TapeInfo.checkpoint_bytes / slot_bytes",
    "slot_bytes": "bytes of one slot: the loop-carried state plus an 8-byte position (measured)",
    "checkpoints_stored": "TapeInfo.checkpoints: checkpoints written in the whole call, forward sweep and "
                          "reverse sweep (a slot is reused many times)",
    "recomputed": "TapeInfo.recomputed: iterations the reverse sweep ran again, untaped, from checkpoints",
    "untaped_total": "n + recomputed: every untaped iteration of the call (the forward sweep runs all n "
                     "to produce the value, then the reverse sweep's recomputation)",
    "revolve_forward_steps": "Revolve's optimum: the least number of untaped steps any schedule needs to "
                             "reverse n steps from a stored start with peak_slots checkpoints (slot 0 "
                             "included), each step taped once: revolve_forward_steps(n, peak_slots - 1)",
    "forward_tail": "binomial only: n minus where the forward sweep stores its last checkpoint (srcgrad's "
                    "plan, ck_plan_next, replayed in Python): the untaped iterations the forward sweep runs past "
                    "its last checkpoint, which Revolve would not run",
    "reverse_sweep_optimal": "binomial only: excess_over_revolve == forward_tail, i.e. the reverse sweep's "
                             "recomputation is exactly Revolve's optimum for the checkpoints given",
    "excess_over_revolve": "untaped_total - revolve_forward_steps: what srcgrad runs beyond the optimum. "
                           "For the binomial schedule this is the forward sweep's run past its last "
                           "checkpoint (Revolve would tape from there instead of running to the end, but "
                           "srcgrad's forward sweep produces the value first); the online schedule of a "
                           "while loop does not know n when it places its checkpoints, so it is farther off. "
                           "Observed: when its forward sweep ends with every slot full (relax, 2049 "
                           "iterations, 17 slots), the last gap is reversed with no free slot, quadratically "
                           "(gap * (gap - 1) / 2 iterations), which makes the worst row",
}


def summary_table(runs: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["config", "workload", "size", "tape_limit", "first call", "steady", "peak extra",
               "1st-call peak", "TapeInfo peak", "unit", "ckpts", "recomputed"]
    rows = []
    for cid, r in runs.items():
        if "calls" not in r:
            continue
        s = r["spec"]
        ti = r.get("tape_info") or {}
        size = s.get("size")
        rows.append([cid, s.get("workload", "lv/jax " + s.get("mode", "")),
                     f"{size:g}" if isinstance(size, float) else f"{size:,}", s.get("tape_limit") or "-",
                     common.fmt_time(r["first_call_s"]), common.fmt_time(r["steady_s"]),
                     common.fmt_bytes(r["peak_extra_bytes"]), common.fmt_bytes(r["first_call_peak_extra_bytes"]),
                     common.fmt_bytes(r.get("tape_info_peak_bytes_max")) if ti else "-",
                     f"{ti['unit']:,}" if ti else "-", f"{ti['checkpoints']:,}" if ti else "-",
                     f"{ti['recomputed']:,}" if ti else "-"])
    return headers, rows


def plot(result: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from srcgrad.tapelimit import parse_limit

    runs = result["runs"]
    n = SIZES[result["mode"]]["lv_sweep"]
    pts = sorted((parse_limit(r["spec"]["tape_limit"]), r) for cid, r in runs.items()
                 if cid.startswith("lv_sweep_") and "steady_s" in r)
    unl = runs.get("lv_unlimited_ref", {}) if runs.get("lv_unlimited_ref", {}).get("spec", {}).get("size") == n else {}
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12.5, 4.8))
    if pts:
        xs = [p[0] for p in pts]
        ax.plot(xs, [p[1]["steady_s"] for p in pts], "o-", label="srcgrad tape_limit (steady call)")
        ax.plot(xs, [p[1]["first_call_s"] for p in pts], "s:", alpha=0.7,
                label="srcgrad tape_limit (first call, unit = 1)")
        for x, r in pts:
            ti = r.get("tape_info") or {}
            if ti.get("recomputed"):
                ax.annotate(f"recomp. {ti['recomputed'] / ti['iterations']:.2g}n", (x, r["steady_s"]),
                            textcoords="offset points", xytext=(4, 6), fontsize=7)
    if "steady_s" in unl:
        ax.axhline(unl["steady_s"], color="k", ls="--", lw=1,
                   label=f"unlimited tape ({common.fmt_bytes(unl.get('tape_bytes'))} of tape)")
    ax.set_xscale("log")
    ax.set_xlabel("tape_limit [bytes]")
    ax.set_ylabel("time per gradient call [s]")
    ax.set_title(f"Lotka-Volterra, n = {n:,}: time against tape_limit", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    # the trade-off: measured peak extra memory against time, srcgrad and JAX
    if pts:
        ax2.plot([max(p[1]["steady_peak_extra_bytes"], 1) for p in pts], [p[1]["steady_s"] for p in pts], "o-",
                 label="srcgrad tape_limit (steady)")
        for i, (x, r) in enumerate(pts):
            ax2.annotate(r["spec"]["tape_limit"], (max(r["steady_peak_extra_bytes"], 1), r["steady_s"]),
                         textcoords="offset points", xytext=(2, -11 if i % 2 else 6), fontsize=7)
    if "steady_s" in unl:
        ax2.plot([unl["steady_peak_extra_bytes"]], [unl["steady_s"]], "k*", ms=10, label="srcgrad unlimited")
    for mode, mk in (("scan", "v"), ("ckpt_scan", "^"), ("nested", "D")):
        r = runs.get(f"jax_{mode}_{n:.0e}", {})
        if "steady_s" in r:
            ax2.plot([max(r["steady_peak_extra_bytes"], 1)], [r["steady_s"]], mk, ms=8,
                     label=f"JAX {mode.replace('ckpt_scan', 'checkpoint(scan body)')}")
    ax2.set_xscale("log")
    ax2.set_xlabel("peak extra resident memory of a call [bytes] (VmHWM - VmRSS before)")
    ax2.set_ylabel("time per gradient call [s]")
    ax2.set_title(f"memory against time, n = {n:,}", fontsize=10)
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7)
    m = result["machine"]
    fig.text(0.5, 0.005, f"{m['cpu_model']}, {m['cpu_count']} cores; numba {m['versions'].get('numba')}; "
             f"{result['mode']} run; {m['date_utc']}", ha="center", va="bottom", fontsize=7, alpha=0.8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


NOTES = [
    "Every configuration runs in a fresh interpreter (python -m bench.memory --child SPEC): the gradient is "
    "compiled by a throw-away GradFunction at a small size, then a fresh gradient is called `calls` times "
    "at the measured size. peak_extra_bytes = VmHWM - VmRSS measured just before the first call at size "
    "(the peak counter reset through /proc/self/clear_refs), the maximum over the calls: it includes the "
    "buffers a gradient with tape_limit keeps from one call to the next. call_peak_extra_bytes is the "
    "same against VmRSS just before each call.",
    "first_call_s is the first call of a fresh gradient at the measured size: with tape_limit it reverses one "
    "iteration per unit (and measures the tape); steady_s is the median of the calls after the first two, "
    "whose units are as many iterations as fit in half the limit.",
    "The unlimited-tape gradient is tape_limit=None run with SRCGRAD_TAPE_LIMIT=none (no default limit): the "
    "plain taped gradient. It keeps its tape buffers between calls when they are at most 1 GiB (so its "
    "steady calls reuse them; above that it frees them and its calls run the forward sweep twice, once to "
    "learn the tape's size); its peak extra memory is about its tape (16 bytes per Lotka-Volterra step).",
    "JAX: jax.jit(jax.grad) of the same Euler loop as lax.scan over a fixed length with the parameters closed "
    "over: 'scan' (no checkpointing, XLA keeps the residuals of every step), 'ckpt_scan' (the scan body "
    "wrapped in jax.checkpoint: the carry of every step is kept, the body recomputed) and 'nested' (a scan of "
    "n1 ~ sqrt(n) jax.checkpoint-ed outer steps each scanning n2 = n / n1 inner steps: O(sqrt n) memory, the "
    "forward run twice). The length n is static: JAX compiles per n, and needs n before the loop runs. "
    "Compilation (f.lower(...).compile()) is outside the timed calls.",
    "rotate (a loop carrying a 2-element array, not in the issue) checks what the limit counts: a checkpoint "
    "or a taped array is counted as its data bytes (16 B here) plus a reference, but each is a separate "
    "allocation (Numba's MemInfo, the malloc headers, a list entry), several times its data for a small "
    "array, so the resident memory can exceed tape_limit by that factor (most on the first call, whose "
    "checkpoints fill the limit). tape_bytes() of the unlimited gradient under-counts the same way.",
    "peak_extra_bytes (the maximum over the calls) also counts memory malloc keeps after a call frees it: "
    "glibc serves a freed block of up to 32 MB again from its heap instead of returning it, so a peer "
    "that allocates and frees tens of MB per call (JAX at n = 1e6) can show twice its need; "
    "first_call_peak_extra_bytes and each call's call_peak_extra_bytes show the need of one call.",
    "VmHWM cannot see memory a call reuses from what the process already held (malloc keeps freed small "
    "blocks), so a small peak (relax, the 16KB/64KB limits) can read below TapeInfo.peak_bytes; blocks "
    "of a few hundred KB and more come fresh from the kernel (mmap) and are counted.",
    "What JAX cannot do: reverse-mode through lax.while_loop (a loop whose trip count is known only at run "
    "time, like relax) raises (the error is recorded under jax_while); jax.checkpoint does not change that. "
    "Forward mode (jvp) works through while_loop, one directional derivative per pass. srcgrad reverses the "
    "while loop with its online checkpoint schedule within the limit.",
]


def markdown(result: dict) -> str:
    """A Markdown section with the numbers (for docs/memory.md)."""
    runs = result["runs"]
    lines = [f"## {TITLE}", ""]
    h, rows = summary_table(runs)
    lines += ["| " + " | ".join(h) + " |", "|" + "---|" * len(h)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "Goals:", ""]
    for gl in result["goals"]:
        lines.append(f"- {'met' if gl['met'] else 'MISSED'}: {gl['goal']}")
    rec = result.get("recompute", {}).get("rows", [])
    if rec:
        lines += ["", "Recomputation against Revolve (first call, one iteration per unit):", "",
                  "| workload | n | tape_limit | schedule | peak slots | checkpoints stored | recomputed | "
                  "n + recomputed | Revolve optimum | excess |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rec + ([result["recompute_big_first_call"]] if result.get("recompute_big_first_call") else []):
            if "error" in r:
                lines.append(f"| {r['workload']} | {r['size']} | {r['tape_limit']} | {r['error']} |||||||")
                continue
            lines.append(f"| {r['workload']} | {r['iterations']:,} | {r['tape_limit']} | {r['schedule']} | "
                         f"{r['peak_slots']:,} | {r['checkpoints_stored']:,} | {r['recomputed']:,} | "
                         f"{r['untaped_total']:,} | {r['revolve_forward_steps']:,} | "
                         f"{r['excess_over_revolve']:,} ({100 * r['excess_over_revolve_rel']:.2g}%) |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.memory", description=TITLE)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="small sizes (well under a minute)")
    ap.add_argument("--tiny", action="store_true", help="smallest sizes, in this process (for tests)")
    ap.add_argument("--repeats", type=int, default=None, help="calls per configuration (the first two are "
                                                               "warm-up)")
    ap.add_argument("--save", action="store_true", help="write into bench/results (tracked)")
    ap.add_argument("--out-dir", default=None, help="where the JSON and PNG go (default bench/results/local, "
                                                    "bench/results with --save)")
    ap.add_argument("--no-subprocess", action="store_true",
                    help="run every configuration in this process (the peaks then mix)")
    ap.add_argument("--only", default="", help="comma-separated configuration ids (prefixes) to run")
    ap.add_argument("--plot", action=argparse.BooleanOptionalAction, default=None,
                    help="draw the PNG plot (default: not in tiny mode)")
    opts = ap.parse_args(argv)
    if opts.child is not None:
        return child_main(opts.child)
    mode = "tiny" if opts.tiny else ("quick" if opts.quick else "full")
    fresh = not (opts.no_subprocess or mode == "tiny")
    out_dir = common.Path(opts.out_dir) if opts.out_dir else (common.RESULTS_DIR if opts.save
                                                               else common.LOCAL_RESULTS_DIR)
    t0 = time.perf_counter()
    machine = common.machine_info(("numpy", "numba", "llvmlite", "srcgrad", "jax", "jaxlib"))
    cfgs = configurations(mode, opts.repeats)
    only = [p for p in opts.only.split(",") if p]
    if only:
        cfgs = [c for c in cfgs if any(c["id"].startswith(p) for p in only)]
    print(f"{TITLE} ({mode}, {len(cfgs)} configurations, "
          f"{'fresh processes' if fresh else 'in this process'})", file=sys.stderr, flush=True)
    runs = {c["id"]: run_config(c, fresh) for c in cfgs}
    result = {"benchmark": NAME, "name": NAME, "title": TITLE, "kind": "memory", "mode": mode,
              "machine": machine, "description": __doc__.split("What it measures")[1].strip(),
              "notes": NOTES, "recompute": {"meaning": RECOMPUTE_MEANING,
                                                           "rows": runs.get("recompute", {}).get("rows", [])},
              "jax_while": {k: v for k, v in runs.get("jax_while", {}).items() if k != "spec"},
              "relax_iterations": relax_iterations(SIZES[mode]["relax_tol"]),
              "runs": {k: v for k, v in runs.items() if k not in ("recompute", "jax_while")}}
    result.update(analyse(runs, mode))
    # JAX is an optional peer (the bench extra): not installed is "unavailable", not a failure
    result["unavailable"] = {k: v["error"] for k, v in runs.items()
                             if k.startswith("jax") and "No module named 'jax" in v.get("error", "")}
    result["errors"] = {k: v["error"] for k, v in runs.items()
                        if "error" in v and k not in result["unavailable"]}
    # what the suite's tests read for a workload not run by bench/runner.py
    result["srcgrad_status"] = {k: ("failed: " + v["error"] if "error" in v else "ok")
                                for k, v in runs.items() if not k.startswith("jax")}
    result["load_warning"] = common.load_warning(machine)
    result["total_wall_s"] = time.perf_counter() - t0
    stem = NAME + ("" if mode == "full" else f"_{mode}")
    jp = common.write_json(out_dir / f"{stem}.json", result)
    if opts.plot if opts.plot is not None else mode != "tiny":
        try:
            plot(result, out_dir / f"{stem}.png")
        except Exception as exc:  # noqa: BLE001 - a plot is not worth the results
            print(f"plot failed: {common.describe_exception(exc)}", file=sys.stderr)
    h, rows = summary_table(result["runs"])
    print("\n" + common.format_table(h, rows))
    print("\n" + markdown(result))
    for k, v in result["errors"].items():
        print(f"ERROR {k}: {v}")
    if result["load_warning"]:
        print(result["load_warning"])
    print(f"wrote {jp} in {result['total_wall_s']:.0f} s", file=sys.stderr)
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
