"""Benchmark: gradient of a recurrent loop ``h = tanh(W @ h + x[t])`` over T steps.

Run from the project root::

    python -m bench.rnn              # full run: H in 8, 32, 128, 256; T = 1000; JAX unrolled at H = 32
    python -m bench.rnn --quick      # smoke run: H in 32, 128; no unrolled JAX; fewer repeats
    python -m bench.rnn --all-peers  # every peer (PyTorch, autograd, tangent too) at three sizes

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

Peers (``bench/runner.py``: same process, same arguments; checks, timing, fresh processes)
------------------------------------------------------------------------------------------
* ``numba_fwd``  -- ``numba.njit(rnn_loss)``, the user function itself (``W @ h`` is a BLAS
  gemv call in Numba).
* ``hand``       -- a hand-written Numba adjoint: the forward stores every state (T+1)*H
  floats (H*8 bytes per step), the reverse loop does ``ga = gh * (1 - h^2)``,
  ``gW += outer(ga, h_prev)``, ``gh = W.T @ ga``.  The practical speed limit, and the tape
  reference (H*8 B/step).
* ``srcgrad``    -- ``srcgrad.value_and_grad(rnn_loss, wrt=(0, 1))``.
* ``jax_fwd`` / ``jax`` -- ``jax.jit`` of the same recurrence as ``lax.scan``, and
  ``jax.jit(jax.value_and_grad(..., argnums=(0, 1)))`` of it; float64.
* with ``--all-peers`` (the ``rnn_peers`` workload) also PyTorch, autograd and tangent-ad,
  each looping over the steps in Python.

JAX's ``jit(grad)`` of the plain Python loop in ``jax.numpy``, which JAX unrolls into T copies
of the step, is checked against ``lax.scan``'s gradient at the check sizes and, in a full run,
compiled at H = 32, T = 1000 in a fresh process with a time limit (its compile time grows
faster than linearly in T: about 100 s at T = 1000 on the reference machine), for its compile
and steady times (:func:`unrolled_jax_table`).

The runner's checks run at every timed size (the hand adjoint is the reference) and, untimed,
at ``CHECK_SIZES``, where the Numba forward is also compared with plain Python.  The section
shows srcgrad's tape per step beside the hand adjoint's.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numba
import numpy as np

from bench import common, runner


# --------------------------------------------------------------------------
# the workload
# --------------------------------------------------------------------------

def rnn_loss(W, x, w_out):
    """sum(w_out * h_T) after h = tanh(W @ h + x[t]) for t < T, from h = 0 (the user function)."""
    h = np.zeros(x.shape[1])
    for t in range(x.shape[0]):
        h = np.tanh(W @ h + x[t])
    return np.sum(w_out * h)



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
    import jax.numpy as jnp
    from jax import lax

    def step(h, xt):
        return jnp.tanh(W @ h + xt), None

    h, _ = lax.scan(step, jnp.zeros(x.shape[1], dtype=x.dtype), x)
    return jnp.sum(w_out * h)


def rnn_loss_unrolled(W, x, w_out):
    """The same recurrence as a Python loop in jax.numpy (unrolled by tracing)."""
    import jax.numpy as jnp
    h = jnp.zeros(x.shape[1], dtype=x.dtype)
    for t in range(x.shape[0]):
        h = jnp.tanh(W @ h + x[t])
    return jnp.sum(w_out * h)


WRT = (0, 1)


def make_jax_unrolled_grad_blocking():
    """A fresh blocking ``jax.jit(jax.grad(...))`` of the unrolled loop (what a fresh process compiles)."""
    jax = runner.load("jax")
    return common.blocking(jax.jit(jax.grad(rnn_loss_unrolled, argnums=WRT)))


def rnn_args(H: int, T: int, seed: int = 0) -> tuple:
    """(W, x, w_out) from a fixed seed."""
    rng = np.random.default_rng(7919 * seed + H)
    W = 0.9 * rng.standard_normal((H, H)) / math.sqrt(H)
    x = 0.5 * rng.standard_normal((T, H))
    w_out = rng.standard_normal(H)
    return (W, x, w_out)


def rnn_args_jax(H: int, T: int, seed: int = 0) -> tuple:
    return runner.jax_arrays(rnn_args(H, T, seed))


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


# --------------------------------------------------------------------------
# JAX's unrolled loop
# --------------------------------------------------------------------------

UNROLLED_SIZE = (32, 1000)
UNROLLED_TIMEOUT_S = 600.0


def unrolled_jax_table(states: dict, mode: str, say) -> dict | None:
    """The runner's extra table: JAX's ``jit(grad)`` of the unrolled loop against ``lax.scan``'s gradient at the
    check sizes (a disagreement is a failure), and in a full run its compile and steady times at
    ``UNROLLED_SIZE`` in a fresh process.  None in a tiny run, or without a checked JAX peer."""
    peer, scan, status = states.get("jax", (None, None, None))
    if mode == "tiny" or status != "ok":
        return None
    unrolled = make_jax_unrolled_grad_blocking()
    rows, failures = [], []
    for H, T in CHECK_SIZES:
        args = peer.convert(rnn_args(H, T, seed=1))
        want = peer.result(scan(*args))[1]
        got = [np.asarray(g, dtype=float) for g in unrolled(*args)]
        try:
            err = max(common.check_close_scaled(f"H={H}, T={T}: jax unrolled d/d{nm} vs lax.scan", g, gw, 1e-9)
                      for g, gw, nm in zip(got, want, ("W", "x")))
            rows.append([f"H={H}, T={T:,}", f"agrees with lax.scan (scaled error {err:.1e})", "", ""])
        except common.CheckFailed as exc:
            failures.append(str(exc).replace("\n", " | "))
            rows.append([f"H={H}, T={T:,}", "**disagrees with lax.scan**", "", ""])
    if mode == "full":
        rows.append(_unrolled_fresh_process(say))
    return {"description": "JAX `jit(grad)` of the recurrence as a Python loop in `jax.numpy`, which tracing "
                           "unrolls into T copies of the step: checked against `lax.scan`'s gradient, and in a "
                           "full run compiled and called in a fresh process:",
            "columns": ["size", "result", "compile + first call", "steady call"], "table": rows,
            "failures": failures}


def _unrolled_fresh_process(say) -> list[str]:
    H, T = UNROLLED_SIZE
    label = f"H={H}, T={T:,}"
    say(f"JAX unrolled Python loop, {label}: compiling in a fresh process (limit {UNROLLED_TIMEOUT_S:.0f} s) ...")
    try:
        r = common.first_call_subprocess(__name__, "make_jax_unrolled_grad_blocking", [H, T], kind="factory",
                                         args_factory="rnn_args_jax", timeout=UNROLLED_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [label, f"not run: compile + first call exceeded {UNROLLED_TIMEOUT_S:.0f} s", "", ""]
    except Exception as exc:  # noqa: BLE001 - reported in the table
        return [label, f"failed: {common.describe_exception(exc)}", "", ""]
    return [label, "ok", common.fmt_time(r["first_call_total_s"]), common.fmt_time(r["steady_call_median_s"])]


# --------------------------------------------------------------------------
# the workloads
# --------------------------------------------------------------------------

CHECK_SIZES = ((3, 5), (8, 50))
HAND = runner.hand_peer(rnn_hand_adjoint, "hand-written Numba adjoint storing every state")
JAX = runner.jax_peer(rnn_loss_scan, WRT, "JAX jit(value_and_grad), lax.scan over the steps", own_forward="jax_fwd")

WORKLOAD_PEERS = runner.Workload(
    name="rnn_peers",
    title="RNN h = tanh(W h + x[t]), every peer",
    fn=rnn_loss,
    wrt=WRT,
    args=lambda size: rnn_args(*size),
    sizes={"full": [(32, 100), (32, 1000), (128, 1000)], "quick": [(32, 100), (32, 1000)], "tiny": [(4, 10)]},
    main_size=(32, 1000),
    check_sizes=CHECK_SIZES,
    work=lambda size: float(size[0] * size[0] * size[1]),
    size_label=lambda size: f"H={size[0]}, T={size[1]:,}",
    x_label="H^2 T (multiply-adds of the forward)",
    kind="loop",
    hand_tape_bytes=lambda size: 8 * size[0] * (size[1] + 1),
    tape_unit=("step", lambda size: size[1]),
    peers=[
        HAND,
        JAX,
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

WORKLOAD = dataclasses.replace(
    WORKLOAD_PEERS,
    name="rnn",
    title="RNN h = tanh(W h + x[t]) over the hidden size",
    sizes={"full": [(8, 1000), (32, 1000), (128, 1000), (256, 1000)], "quick": [(32, 1000), (128, 1000)],
           "tiny": [(4, 30)]},
    x_label="H^2 T (multiply-adds of the forward), T = 1000",
    peers=[HAND, runner.jax_forward_peer(rnn_loss_scan, "JAX jit of the lax.scan recurrence (value only)"), JAX],
    extra_tables=(unrolled_jax_table,),
    description="""
`h = np.tanh(W @ h + x[t])` for T = 1,000 steps, gradient with respect to W and
x, beside a hand-written Numba adjoint and JAX `lax.scan` (`jit` and
`jit(value_and_grad)`); JAX's `jit(grad)` of the unrolled Python loop is checked
at small sizes, and the full run compiles it at H = 32 in a fresh process.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv, alternatives={"all-peers": WORKLOAD_PEERS})


if __name__ == "__main__":
    sys.exit(main())
