"""What the nested-derivative workloads (``bench.particle``, ``bench.saddle``) share.

GradBench's ``particle`` and ``saddle`` evals ask for the result of a gradient
descent (an argmin over the outer variable), not for one gradient.  The runner
checks and times one value and gradient of the user function, like every other
workload; this module holds what comes after:

* :func:`argmin` -- GradBench's gradient-descent solver (its ``gd.hpp`` /
  ``solver.fut``): start with the step ``eta = 1e-5``, double it after every 10
  accepted steps, halve it after a rejected one (a step that does not lower the
  value), stop when the gradient or the step is shorter than ``1e-5``.  The
  workloads write the same solver again inside their user functions where it must
  be differentiated (saddle's inner ascent);
* :func:`gradbench_close` -- GradBench's own comparison of an output with its
  golden value (``comparison.py``: ``|a - b| / max(1, |a| + |b|) <= 1e-4``);
* :func:`srcgrad_value_and_grad`, :func:`tangent_probe` -- the srcgrad and tangent peers,
  reported as unable to run (with the tool's error) where they cannot do nested AD;
* :func:`eval_outputs` -- the runner's ``eval_output`` hook for these workloads: the
  whole eval solved with each peer that passed the runner's checks (its value and
  gradient drive the solver), the outputs compared with each other and with
  GradBench's golden output, and one solve timed per peer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from bench import common, runner

GD_TOL = 1e-5  # the solver stops when the gradient, or the step, is this short
GD_ETA0 = 1e-5  # the first step size
GD_WIDEN = 10  # accepted steps before the step size doubles
GRADBENCH_TOL = 1e-4  # GradBench's validator: |a - b| / max(1, |a| + |b|) <= 1e-4

# Families whose whole eval is not solved in quick and tiny runs (the Python-taping ones): each
# solve is one value and gradient per trial point of the descent (84 for particle, 310 for
# saddle), seconds to a minute in Python.
SLOW_FAMILIES = runner.SLOW_FAMILIES
# The peers whose eval output the others are compared with, the first one that solved it.
EVAL_REFERENCE = ("jax", "autograd", "hand", "torch")


def argmin(vg: Callable, x0, max_calls: int = 1_000_000) -> tuple[np.ndarray, int]:
    """GradBench's gradient descent from ``x0``; ``vg(x)`` returns ``(f(x), gradient of f at x)``.

    Returns ``(x, calls)``: the minimiser it stops at and how many times it called ``vg``.
    GradBench's solvers evaluate ``f`` at every trial point and the gradient only at the
    accepted ones; here both come from one call at every trial point (the tools compute
    them together), which would cost a gradient per rejected trial (there is none in the
    particle and saddle evals: every trial is accepted).
    """
    x = np.array(x0, dtype=float).reshape(-1)
    fx, gx = vg(x)
    gx = np.asarray(gx, dtype=float).reshape(-1)
    calls = 1
    eta = GD_ETA0
    accepted = 0
    while calls < max_calls:
        if math.sqrt(float(gx @ gx)) <= GD_TOL:
            return x, calls
        if accepted == GD_WIDEN:
            eta = 2.0 * eta
            accepted = 0
            continue
        x_new = x - eta * gx
        d = x - x_new
        if math.sqrt(float(d @ d)) <= GD_TOL:
            return x, calls
        f_new, g_new = vg(x_new)
        calls += 1
        if f_new < fx:
            x, fx, gx = x_new, f_new, np.asarray(g_new, dtype=float).reshape(-1)
            accepted += 1
        else:
            eta = eta / 2.0
            accepted = 0
    raise RuntimeError(f"gradient descent did not stop within {max_calls} calls")


def gradbench_close(got, want, tol: float = GRADBENCH_TOL) -> bool:
    """GradBench's validator, component by component: ``|a - b| / max(1, |a| + |b|) <= tol``."""
    a = np.atleast_1d(np.asarray(got, dtype=float))
    b = np.atleast_1d(np.asarray(want, dtype=float))
    if a.shape != b.shape:
        return False
    return bool(np.all(np.abs(a - b) / np.maximum(1.0, np.abs(a) + np.abs(b)) <= tol))


def _fmt_output(out: np.ndarray) -> str:
    flat = np.ravel(out)
    if flat.size > 1 and np.all(flat == flat[0]):
        return f"{flat[0]:.12g} (all {flat.size})"
    return ", ".join(f"{v:.12g}" for v in flat)


def srcgrad_value_and_grad(fn, probe_args: tuple, wrt=0):
    """``srcgrad.value_and_grad(fn, wrt)``, transformed and compiled by one call at ``probe_args``.

    While srcgrad cannot differentiate a function that calls a gradient (nested AD), the
    transform raises ``UnsupportedSyntaxError``: the peer is then reported as unable to run
    (``runner.Unavailable``), with srcgrad's message, instead of failing."""
    import srcgrad
    from srcgrad.errors import UnsupportedSyntaxError

    vg = srcgrad.value_and_grad(fn, wrt=wrt)
    try:
        vg(*probe_args)
    except UnsupportedSyntaxError as exc:
        raise runner.Unavailable(f"cannot run: {common.describe_exception(exc, 400)}") from None
    return vg


def tangent_probe(df, probe_args: tuple, inner: str):
    """``df`` (``tangent.grad`` of a function that calls ``tangent.grad`` of ``inner``) after one
    call at ``probe_args``.  tangent transforms such a function, but the adjoint it writes for the
    call to its own generated gradient passes that gradient's adjoint too few arguments: the
    peer is reported as unable to run, with the error, rather than failing at every size."""
    try:
        df(*probe_args)
    except Exception as exc:  # noqa: BLE001
        raise runner.Unavailable(f"cannot run nested AD: tangent.grad transformed the function, but its adjoint "
                                 f"of the call to tangent.grad({inner}) raises "
                                 f"{common.describe_exception(exc, 200)}") from None
    return df


def tangent_nested(outer, inner, inner_wrt: tuple, inner_global: str, probe_args: tuple,
                   names: tuple[str, str, str]):
    """tangent-ad's gradient of ``outer`` (with respect to its first argument), a function that calls
    tangent's gradient of ``inner``: that one is made first and stored as the global ``inner_global`` of
    ``outer``'s module, where ``outer`` reads it.  ``names``: the inner function in the call, the inner
    and the outer function in the reasons when a transform refuses them (``runner.Unavailable``).  Probed
    at ``probe_args`` (:func:`tangent_probe`)."""
    import sys
    call_name, inner_what, outer_what = names
    tangent = runner.load("tangent")
    try:
        setattr(sys.modules[outer.__module__], inner_global, tangent.grad(inner, wrt=inner_wrt, verbose=0))
    except Exception as exc:  # noqa: BLE001
        raise runner.Unavailable(f"tangent.grad refused {inner_what}: {runner._tangent_reason(exc)}") from None
    try:
        df = tangent.grad(outer, wrt=(0,), preserve_result=True, verbose=0)
    except Exception as exc:  # noqa: BLE001 - the nesting: tangent differentiates only functions it can read
        raise runner.Unavailable(f"tangent.grad refused {outer_what} that calls tangent.grad({call_name}) (nested "
                                 f"AD): {runner._tangent_reason(exc)}") from None
    return tangent_probe(df, probe_args, call_name)


class _OverBudget(Exception):
    """A peer's first call predicts a solve longer than the limit."""


def _guarded(fn: Callable, expected_calls: int | None, limit_s: float) -> Callable:
    """``fn`` raising :class:`_OverBudget` after its first call if ``expected_calls`` calls of that
    duration would exceed ``limit_s``."""
    first: list[float] = []

    def call(*args):
        t0 = time.perf_counter()
        out = fn(*args)
        if not first:
            first.append(time.perf_counter() - t0)
            if expected_calls and first[0] * expected_calls > limit_s:
                raise _OverBudget(f"one solve predicted to take {common.fmt_time(first[0] * expected_calls)} "
                                  f"({expected_calls} calls of {common.fmt_time(first[0])}), more than "
                                  f"{common.fmt_time(limit_s)}")
        return out

    return call


def eval_outputs(states: dict, mode: str, say: Callable[[str], None], *, solve: Callable, golden,
                 description: str, rtol: float = 1e-9, floor_rel: float = 1e-6, input_label: str = "",
                 skip: dict | None = None, max_seconds: float = 2.0, max_runs: int = 5,
                 max_solve_s: float = 120.0) -> dict:
    """The runner's ``eval_output`` hook: solve the eval with every peer that passed the checks.

    ``states`` maps each peer's name to ``(Peer, built callable or None, status)``;
    ``solve(peer, fn)`` returns ``(output array, value-and-gradient calls)``.  Each peer's
    output must agree with the reference's (the first of :data:`EVAL_REFERENCE` that
    solved it) to ``rtol`` (``common.check_close_scaled``) and with GradBench's golden
    output by GradBench's own test; any disagreement is listed in ``failures`` (the
    runner makes it a hard failure).  In a full run each solve is repeated for up to
    ``max_seconds`` (``max_runs`` at most) and the median reported; quick and tiny runs
    solve once, without the Python-taping peers (:data:`SLOW_FAMILIES`).  ``skip`` maps the
    names of peers that do not solve it to the reason; a peer whose first call predicts a
    solve longer than ``max_solve_s`` (as many calls as the peers before it needed) is not
    solved either.
    """
    rows: dict[str, dict] = {}
    outputs: dict[str, np.ndarray] = {}
    failures: list[str] = []
    t_all = time.perf_counter()
    for name, (peer, fn, status) in states.items():
        if peer.kind == "forward":
            continue
        if status != "ok":
            rows[name] = {"status": status}
            continue
        if skip and name in skip:
            rows[name] = {"status": skip[name]}
            continue
        if mode != "full" and peer.family in SLOW_FAMILIES:
            rows[name] = {"status": f"not run in a {mode} run (a Python-taping peer: one solve is a hundred or "
                                    "more of its value-and-gradient calls)"}
            continue
        times = []
        expected = max((r["calls"] for r in rows.values() if "calls" in r), default=None)
        try:
            while True:
                t0 = time.perf_counter()
                out, calls = solve(peer, _guarded(fn, expected, max_solve_s) if not times else fn)
                times.append(time.perf_counter() - t0)
                if mode != "full" or len(times) >= max_runs or sum(times) + times[-1] > max_seconds:
                    break
        except _OverBudget as exc:
            rows[name] = {"status": f"not solved: {exc}"}
            say(f"eval: {name}: not solved: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - reported, and a failure: its gradient passed the checks
            why = f"the solve raised {common.describe_exception(exc)}"
            rows[name] = {"status": f"failed: {why}"}
            failures.append(f"{name}: {why}")
            say(f"eval: {name}: {why}")
            continue
        out = np.atleast_1d(np.asarray(out, dtype=float))
        outputs[name] = out
        rows[name] = {"status": "ok", "output": out.tolist(), "calls": int(calls),
                      "time": common.summarize(times)}
        say(f"eval: {name}: {_fmt_output(out)} after {calls} value-and-gradient calls, "
            f"{common.fmt_time(float(np.median(times)))} per solve ({len(times)} runs)")
    ref = next((r for r in EVAL_REFERENCE if r in outputs), None) or next(iter(outputs), None)
    golden_a = np.atleast_1d(np.asarray(golden, dtype=float))
    for name, out in outputs.items():
        row = rows[name]
        row["gradbench_ok"] = gradbench_close(out, golden_a)
        if not row["gradbench_ok"]:
            failures.append(f"{name}: eval output {_fmt_output(out)} fails GradBench's check against its golden "
                            f"output {_fmt_output(golden_a)}")
        if ref is not None and name != ref:
            try:
                row["err_vs_ref"] = common.check_close_scaled(f"eval output of {name} vs {ref}", out, outputs[ref],
                                                              rtol, floor_rel)
            except common.CheckFailed as exc:
                row["err_vs_ref"] = float(np.max(common.scaled_err(out, outputs[ref], floor_rel)))
                failures.append(str(exc).replace("\n", " | "))
    columns = ["peer", "output", f"vs {ref}" if ref else "vs reference", "GradBench's check",
               "value+gradient calls", "time per solve"]
    table = []
    for name, row in rows.items():
        if row["status"] != "ok":
            table.append([name, row["status"][:160], "", "", "", ""])
            continue
        t = row["time"]
        table.append([name, _fmt_output(np.asarray(row["output"])),
                      "reference" if name == ref else f"{row.get('err_vs_ref', float('nan')):.1e}",
                      "passes" if row["gradbench_ok"] else "FAILS", str(row["calls"]),
                      common.fmt_time(t["median"]) + (f" ±{100 * t['iqr'] / t['median']:.0f}%" if t["repeats"] > 1
                                                     else " (1 run)")])
    say(f"eval: {len(outputs)} solves in {time.perf_counter() - t_all:.1f} s"
        + (f"; {len(failures)} failures" if failures else ", all agree"))
    return {"description": description.strip(), "input": input_label, "golden": golden_a.tolist(),
            "reference": ref, "rtol": rtol, "rows": rows, "columns": columns, "table": table,
            "failures": failures}
