"""Benchmark: gradient of a 2-layer MLP training loss, the user code split into helper functions.

Run from the project root::

    python -m bench.mlp              # full run: 30 timing samples, 3 fresh-process start-ups per peer
    python -m bench.mlp --quick      # smoke run: 7 samples, 1 start-up each

Workload
--------
One training step's gradient of a 2-layer perceptron: a batch of ``n = 256`` examples of
dimension ``d = 32``, ``H = 64`` hidden units, ``C = 10`` classes, float64::

    logits = relu(x @ W1 + b1) @ W2 + b2                      # (n, C)
    loss   = mean_i softmax_cross_entropy(logits_i, y_i)     # y one-hot, (n, C) floats

with respect to ``(W1, b1, W2, b2)``: ``d H + H + H C + C`` = 2,762 numbers.  The
cross-entropy is the numerically stable one: each row's maximum is subtracted before
``exp``, ``-sum(y * (shifted - log(sum(exp(shifted)))))``.  The labels are a one-hot float
array so that the whole function is arithmetic.

The user code is written twice, in plain NumPy:

* ``mlp_loss`` calls the module-level helpers ``dense(x, W, b)``, ``relu(z)`` and
  ``softmax_cross_entropy(logits, y_onehot)``, as one would write it;
* ``mlp_loss_inlined`` is the same math inlined by hand into one function.

Both spell the row maximum as a loop of ``np.maximum`` over the C columns and the row sum
as ``np.sum(..., axis=1)`` followed by ``.reshape((n, 1))``: ``numba.njit`` (0.68) rejects
``np.max(..., axis=...)`` and ``keepdims=``, and the Numba forward below compiles
``mlp_loss_inlined`` itself.  srcgrad accepts either spelling.

Data (NumPy ``default_rng``, fixed seeds): ``W1 = N(0,1)/sqrt(d)``, ``W2 = N(0,1)/sqrt(H)``,
``b1, b2 = 0.1 N(0,1)``, ``x = N(0,1)``, labels uniform in ``0..C-1``.

Peers (same process, same arguments)
-----------------------------------
* ``numba_fwd``        -- ``numba.njit(mlp_loss_inlined)``: the forward alone (``@`` is a BLAS
  call through SciPy).
* ``jax_fwd`` / ``jax_grad`` -- ``jax.jit`` of the same math in ``jax.numpy`` (``jnp.max`` with
  ``keepdims``), and ``jax.jit(jax.grad(..., argnums=(0, 1, 2, 3)))``; float64
  (``jax_enable_x64``); device arrays made once; every call ends in ``block_until_ready``.
* ``torch_autograd``   -- PyTorch eager mode on float64 tensors (the parameters with
  ``requires_grad``): each call sets the parameters' ``.grad`` to ``None`` (so the
  gradients are new tensors, as ``zero_grad(set_to_none=True)``), runs the forward and
  ``loss.backward()`` and returns the four ``.grad`` tensors.  PyTorch's default thread
  count is kept (``--torch-threads N`` overrides it) and recorded (``torch.get_num_threads()``).
  With 2 threads it is very sensitive to other load on the machine: when another process
  keeps one core busy, its calls slow down by 10-100x.
* ``srcgrad[inlined]`` -- ``srcgrad.grad(mlp_loss_inlined, wrt=(0, 1, 2, 3))``.
* ``srcgrad[calls]``   -- ``srcgrad.grad(mlp_loss, wrt=(0, 1, 2, 3))``: the version with calls
  between user functions.  Until srcgrad supports those calls it is reported as
  ``srcgrad[calls]: failed: <reason>`` and everything else still runs; once it does, this
  script times it with no edits.

XLA and PyTorch may use both cores, and so may the BLAS behind Numba's ``@``.

Checks (before any timing)
--------------------------
On a small problem (n=7, d=3, H=5, C=4) and on the timed arguments.  Peers other than
srcgrad must agree or the run aborts (exit code 2): plain-Python ``mlp_loss`` and
``mlp_loss_inlined`` vs the Numba forward, and the JAX and PyTorch values vs the Numba
forward (rtol 1e-12); the JAX gradient vs PyTorch's (componentwise, rtol 1e-10, components
below 1e-6 of the array's largest held to that scale: ``common.check_close_scaled``); the
JAX gradient vs 4th-order central finite differences of the Numba forward along 3 random
unit directions in (W1, b1, W2, b2) (step 1e-4, rtol 1e-6; a direction whose +-2 step
segment would move some hidden pre-activation across the ReLU kink is redrawn).  Each
srcgrad variant: its gradient vs JAX's (scaled, rtol 1e-9), its directional derivatives
vs the finite differences (rtol 1e-6), its ``value_and_grad`` value vs the Numba forward
(rtol 1e-12).  A srcgrad variant that cannot build, raises, or disagrees is reported as
``srcgrad[<variant>]: failed: <reason>`` and left out of the timing.

Metrics
-------
Wall time per call, median / quartiles / IQR (``common.time_interleaved``: 30 samples,
7 with ``--quick``, peers interleaved); ratios srcgrad[calls] / jax_grad,
srcgrad[calls] / torch_autograd, srcgrad[calls] / srcgrad[inlined] (what the calls cost),
srcgrad / numba_fwd, and the same for srcgrad[inlined]; first call in a fresh process
(construct + compile + one call): srcgrad with an empty and a warm ``SRCGRAD_CACHE_DIR``,
JAX ``jit(grad)``, PyTorch, the Numba forward; srcgrad tape bytes (``g.tape_bytes``), also
per example.

Output: ``bench/results/mlp.json`` and ``mlp.png`` (``mlp_quick.*`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
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

    JAX_ERROR = None
except Exception as _exc:  # noqa: BLE001 - the benchmark still runs its other peers
    jax = jnp = None
    JAX_ERROR = common.describe_exception(_exc)

try:
    import torch

    TORCH_ERROR = None
except Exception as _exc:  # noqa: BLE001
    torch = None
    TORCH_ERROR = common.describe_exception(_exc)


BATCH, D_IN, HIDDEN, CLASSES = 256, 32, 64, 10


# --------------------------------------------------------------------------
# the workload: user code with helper functions (what srcgrad[calls] differentiates)
# --------------------------------------------------------------------------

def dense(x, W, b):
    """Affine layer: x @ W + b, b broadcast over the rows."""
    return x @ W + b


def relu(z):
    return np.maximum(z, 0.0)


def softmax_cross_entropy(logits, y_onehot):
    """Mean over rows of -sum(y * log_softmax(logits)), each row's maximum subtracted first."""
    n = logits.shape[0]
    m = logits[:, 0].copy()
    for j in range(1, logits.shape[1]):
        m = np.maximum(m, logits[:, j])
    shifted = logits - m.reshape((n, 1))
    lse = np.log(np.sum(np.exp(shifted), axis=1))
    return -np.sum(y_onehot * (shifted - lse.reshape((n, 1)))) / n


def mlp_loss(W1, b1, W2, b2, x, y_onehot):
    """Mean softmax cross-entropy of relu(x @ W1 + b1) @ W2 + b2 against one-hot labels."""
    h = relu(dense(x, W1, b1))
    logits = dense(h, W2, b2)
    return softmax_cross_entropy(logits, y_onehot)


# --------------------------------------------------------------------------
# the workload: the same math inlined by hand (srcgrad[inlined]; Numba compiles it as-is)
# --------------------------------------------------------------------------

def mlp_loss_inlined(W1, b1, W2, b2, x, y_onehot):
    """mlp_loss with dense, relu and softmax_cross_entropy inlined."""
    n = x.shape[0]
    h = np.maximum(x @ W1 + b1, 0.0)
    logits = h @ W2 + b2
    m = logits[:, 0].copy()
    for j in range(1, logits.shape[1]):
        m = np.maximum(m, logits[:, j])
    shifted = logits - m.reshape((n, 1))
    lse = np.log(np.sum(np.exp(shifted), axis=1))
    return -np.sum(y_onehot * (shifted - lse.reshape((n, 1)))) / n


mlp_forward_nb = numba.njit(mlp_loss_inlined)

VARIANTS = {
    # name: (user function, module attribute name)
    "inlined": (mlp_loss_inlined, "mlp_loss_inlined"),
    "calls": (mlp_loss, "mlp_loss"),
}
WRT = (0, 1, 2, 3)
WRT_NAMES = ("W1", "b1", "W2", "b2")


# --------------------------------------------------------------------------
# JAX and PyTorch versions
# --------------------------------------------------------------------------

def mlp_loss_jax(W1, b1, W2, b2, x, y_onehot):
    """The same loss in jax.numpy."""
    h = jnp.maximum(x @ W1 + b1, 0.0)
    logits = h @ W2 + b2
    shifted = logits - jnp.max(logits, axis=1, keepdims=True)
    lse = jnp.log(jnp.sum(jnp.exp(shifted), axis=1, keepdims=True))
    return -jnp.sum(y_onehot * (shifted - lse)) / logits.shape[0]


def make_jax_fwd():
    return jax.jit(mlp_loss_jax)


def make_jax_grad():
    return jax.jit(jax.grad(mlp_loss_jax, argnums=WRT))


def make_jax_grad_blocking():
    """A fresh blocking ``jax.jit(jax.grad(...))`` (for first-call timing)."""
    return common.blocking(make_jax_grad())


def mlp_loss_torch(W1, b1, W2, b2, x, y_onehot):
    """The same loss in PyTorch."""
    h = torch.relu(x @ W1 + b1)
    logits = h @ W2 + b2
    shifted = logits - torch.amax(logits, dim=1, keepdim=True)
    lse = torch.log(torch.sum(torch.exp(shifted), dim=1, keepdim=True))
    return -torch.sum(y_onehot * (shifted - lse)) / logits.shape[0]


def torch_grad(W1, b1, W2, b2, x, y_onehot):
    """One PyTorch autograd step: the parameters' .grad cleared, forward, backward, the 4 gradients."""
    params = (W1, b1, W2, b2)
    for p in params:
        p.grad = None
    loss = mlp_loss_torch(W1, b1, W2, b2, x, y_onehot)
    loss.backward()
    return tuple(p.grad for p in params)


def torch_fwd_value(W1, b1, W2, b2, x, y_onehot) -> float:
    with torch.no_grad():
        return float(mlp_loss_torch(W1, b1, W2, b2, x, y_onehot))


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

def mlp_args(batch: int = BATCH, d_in: int = D_IN, hidden: int = HIDDEN, classes: int = CLASSES,
             seed: int = 0) -> tuple:
    """(W1, b1, W2, b2, x, y_onehot) from a fixed seed."""
    rng = np.random.default_rng(7919 * seed + 31)
    W1 = rng.standard_normal((d_in, hidden)) / math.sqrt(d_in)
    b1 = 0.1 * rng.standard_normal(hidden)
    W2 = rng.standard_normal((hidden, classes)) / math.sqrt(hidden)
    b2 = 0.1 * rng.standard_normal(classes)
    x = rng.standard_normal((batch, d_in))
    labels = rng.integers(0, classes, size=batch)
    y_onehot = np.zeros((batch, classes))
    y_onehot[np.arange(batch), labels] = 1.0
    return (W1, b1, W2, b2, x, y_onehot)


def jax_args(args: tuple) -> tuple:
    return tuple(jnp.asarray(a) for a in args)


def torch_args(args: tuple) -> tuple:
    """Copies as float64 tensors; the parameters (the first four) require grad."""
    return tuple(torch.tensor(a, dtype=torch.float64, requires_grad=(i in WRT)) for i, a in enumerate(args))


def mlp_args_jax(*size) -> tuple:
    return jax_args(mlp_args(*size))


def mlp_args_torch(*size) -> tuple:
    return torch_args(mlp_args(*size))


def size_label(size) -> str:
    n, d, h, c = size
    return f"n={n},d={d},H={h},C={c}"


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------

RTOL_VALUE = 1e-12   # loss values: same math, different summation order
RTOL_JAX_TORCH = 1e-10
RTOL_SRCGRAD = 1e-9
FLOOR_REL = 1e-6
RTOL_FD = 1e-6
FD_STEP = 1e-4
FD_DIRECTIONS = 3
CHECK_SIZES = [((7, 3, 5, 4), 1), ((BATCH, D_IN, HIDDEN, CLASSES), 0)]  # (size, seed); the second is what is timed


def _dot_dir(grads, direction) -> float:
    return float(sum(np.sum(np.asarray(grads[i]) * direction[i]) for i in WRT))


def _kink_margin(args, direction) -> float:
    """Smallest |t| at which a hidden pre-activation x @ W1 + b1 changes sign along ``direction``."""
    x = args[4]
    z = x @ args[0] + args[1]
    dz = x @ direction[0] + direction[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.min(np.abs(z) / np.abs(dz)))


def _fd_directions(args, rng) -> tuple[list, list, int]:
    """FD_DIRECTIONS random unit directions in (W1, b1, W2, b2) whose +-2 step segment stays off
    the ReLU kinks, their fd4 directional derivatives of the Numba forward, and how many were redrawn."""
    directions, fds, redrawn = [], [], 0
    while len(directions) < FD_DIRECTIONS:
        dr = {i: rng.standard_normal(args[i].shape) for i in WRT}
        norm = math.sqrt(sum(float(np.sum(v * v)) for v in dr.values()))
        dr = {i: v / norm for i, v in dr.items()}
        if _kink_margin(args, dr) <= 2.5 * FD_STEP and redrawn < 100:
            redrawn += 1
            continue
        directions.append(dr)
        fds.append(common.fd4_directional(mlp_forward_nb, args, dr, step=FD_STEP))
    return directions, fds, redrawn


def run_checks(size, seed, srcgrad_peers, jfwd, jgrad) -> tuple[dict, list]:
    """Checks at one problem; returns (record, hard failures).  srcgrad problems only mark the peer."""
    args = mlp_args(*size, seed=seed)
    label = f"{size_label(size)},seed={seed}"
    rec: dict = {"size": list(size), "seed": seed, "max_err": {}}
    hard: list[str] = []

    def hard_chk(name, fn, *a):
        try:
            rec["max_err"][name] = fn(f"{label}: {name}", *a)
        except common.CheckFailed as exc:
            hard.append(str(exc))

    v_nb = float(mlp_forward_nb(*args))
    rec["value"] = v_nb
    hard_chk("numba_fwd_vs_python_inlined", common.check_close, v_nb, float(mlp_loss_inlined(*args)), RTOL_VALUE)
    hard_chk("numba_fwd_vs_python_calls", common.check_close, v_nb, float(mlp_loss(*args)), RTOL_VALUE)

    g_jax = g_torch = None
    if jgrad is not None:
        jargs = jax_args(args)
        hard_chk("jax_fwd_vs_numba_fwd", common.check_close, float(jfwd(*jargs)), v_nb, RTOL_VALUE)
        g_jax = tuple(np.asarray(a, dtype=float) for a in jgrad(*jargs))
    if torch is not None:
        targs = torch_args(args)
        hard_chk("torch_fwd_vs_numba_fwd", common.check_close, torch_fwd_value(*targs), v_nb, RTOL_VALUE)
        g_torch = tuple(t.detach().numpy().astype(float) for t in torch_grad(*targs))
    shapes_ok = True
    for name, g in (("jax", g_jax), ("torch", g_torch)):
        if g is not None:
            for i, nm in zip(WRT, WRT_NAMES):
                if g[i].shape != args[i].shape:
                    shapes_ok = False
                    hard.append(f"{label}: {name} gradient {nm} has shape {g[i].shape}, want {args[i].shape}")
    if g_jax is not None and g_torch is not None and shapes_ok:
        for i, nm in zip(WRT, WRT_NAMES):
            hard_chk(f"jax_d{nm}_vs_torch", common.check_close_scaled, g_jax[i], g_torch[i], RTOL_JAX_TORCH, FLOOR_REL)
    ref_name, g_ref = ("jax", g_jax) if g_jax is not None else ("torch", g_torch)

    directions, fds, redrawn = _fd_directions(args, np.random.default_rng(99 + seed))
    rec["fd_directional"] = fds
    rec["fd_directions_redrawn_near_relu_kink"] = redrawn
    if g_ref is not None and shapes_ok:
        hard_chk(f"{ref_name}_grad_vs_fd4_directional", common.check_close,
                 [_dot_dir(g_ref, dr) for dr in directions], fds, RTOL_FD)

    for sp in srcgrad_peers:
        if not sp.ok:
            continue
        g_s = sp.grad(args)
        if g_s is None:
            continue
        try:
            for i, nm in zip(WRT, WRT_NAMES):
                if g_s[i].shape != args[i].shape:
                    raise common.CheckFailed(f"{label}: {sp.name} gradient {nm} has shape {g_s[i].shape}, "
                                             f"want {args[i].shape}")
            if g_ref is not None:
                for i, nm in zip(WRT, WRT_NAMES):
                    rec["max_err"][f"{sp.name}_d{nm}_vs_{ref_name}"] = common.check_close_scaled(
                        f"{label}: {sp.name} d/d{nm} vs {ref_name}", g_s[i], g_ref[i], RTOL_SRCGRAD, FLOOR_REL)
            rec["max_err"][f"{sp.name}_vs_fd4_directional"] = common.check_close(
                f"{label}: {sp.name} directional derivatives vs fd4",
                [_dot_dir(g_s, dr) for dr in directions], fds, RTOL_FD)
            vg = sp.value_and_grad(args)
            if vg is not None:
                rec["max_err"][f"{sp.name}_value_vs_numba_fwd"] = common.check_close(
                    f"{label}: {sp.name} value", vg[0], v_nb, RTOL_VALUE)
                for i, nm in zip(WRT, WRT_NAMES):
                    common.check_close_scaled(f"{label}: {sp.name} value_and_grad d/d{nm} vs grad",
                                              vg[1][i], g_s[i], 1e-14, FLOOR_REL)
        except common.CheckFailed as exc:
            sp.fail("wrong answer: " + str(exc).replace("\n", " | ")[:600])
    return rec, hard


# --------------------------------------------------------------------------
# first call in a fresh process
# --------------------------------------------------------------------------

def _first_call_runs(pairs: int, size: tuple, srcgrad_variants: list[str], log) -> dict:
    """Fresh-process first call: srcgrad cold/warm cache, JAX jit(grad), PyTorch, Numba forward."""
    out: dict = {"size": list(size)}

    def run(key, factory="mlp_args", **kw):
        try:
            out.setdefault(key, []).append(common.first_call_subprocess(
                "bench.mlp", args=list(size), args_factory=factory, **kw))
        except Exception as exc:  # noqa: BLE001
            out.setdefault(key + "_errors", []).append(common.describe_exception(exc, 2000))
            log(f"  {key}: FAILED: {common.describe_exception(exc)}")

    for variant in srcgrad_variants:
        fname = VARIANTS[variant][1]
        for i in range(pairs):
            cache = tempfile.mkdtemp(prefix="srcgrad-bench-cache-")
            try:
                log(f"  srcgrad[{variant}] first call, empty cache dir [{i + 1}/{pairs}] ...")
                run(f"srcgrad[{variant}]_cold", func=fname, wrt=WRT, kind="srcgrad_grad", cache_dir=cache)
                log(f"  srcgrad[{variant}] first call, warm cache dir [{i + 1}/{pairs}] ...")
                run(f"srcgrad[{variant}]_warm", func=fname, wrt=WRT, kind="srcgrad_grad", cache_dir=cache)
            finally:
                shutil.rmtree(cache, ignore_errors=True)
    for i in range(pairs):
        log(f"  numba forward / jax jit(grad) / torch first call [{i + 1}/{pairs}] ...")
        run("numba_fwd", func="mlp_forward_nb", kind="plain")
        if jax is not None:
            run("jax_grad", func="make_jax_grad_blocking", kind="factory", factory="mlp_args_jax")
        if torch is not None:
            run("torch_autograd", func="torch_grad", kind="plain", factory="mlp_args_torch")
    return common.summarize_first_calls(out)


# --------------------------------------------------------------------------
# plot
# --------------------------------------------------------------------------

PEER_ORDER = ("numba_fwd", "jax_fwd", "jax_grad", "torch_autograd", "srcgrad[inlined]", "srcgrad[calls]")
RATIO_DEFS = {
    "srcgrad[calls]/jax_grad": ("srcgrad[calls]", "jax_grad"),
    "srcgrad[calls]/torch_autograd": ("srcgrad[calls]", "torch_autograd"),
    "srcgrad[calls]/srcgrad[inlined]": ("srcgrad[calls]", "srcgrad[inlined]"),
    "srcgrad[calls]/numba_fwd": ("srcgrad[calls]", "numba_fwd"),
    "srcgrad[inlined]/jax_grad": ("srcgrad[inlined]", "jax_grad"),
    "srcgrad[inlined]/torch_autograd": ("srcgrad[inlined]", "torch_autograd"),
    "srcgrad[inlined]/numba_fwd": ("srcgrad[inlined]", "numba_fwd"),
    "jax_grad/jax_fwd": ("jax_grad", "jax_fwd"),
    "jax_grad/numba_fwd": ("jax_grad", "numba_fwd"),
    "torch_autograd/numba_fwd": ("torch_autograd", "numba_fwd"),
}


def bar_plot(path: str, timings: dict, ratios: dict, failed: dict, title: str, subtitle: str) -> None:
    """Median time per peer (IQR bars; failed srcgrad variants marked), and the time ratios."""
    try:
        import matplotlib
    except ImportError:
        print(f"matplotlib is not installed: no plot {path}", file=sys.stderr)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [p for p in PEER_ORDER if p in timings or p in failed]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    colors = {"numba_fwd": "0.55", "jax_fwd": "#9ecae1", "jax_grad": "#3182bd", "torch_autograd": "#e6550d",
              "srcgrad[inlined]": "#31a354", "srcgrad[calls]": "#74c476"}
    meds = [timings[p]["median"] * 1e6 for p in names if p in timings] or [1.0]
    top = max([timings[p]["q3"] * 1e6 for p in names if p in timings] or [1.0])
    log_scale = max(meds) > 20 * min(meds)  # one slow peer would flatten the others on a linear axis
    bottom = min(meds) / 3 if log_scale else 0.0

    def above(y, frac):
        return y * (1 + 4 * frac) if log_scale else y + frac * top

    for i, p in enumerate(names):
        if p not in timings:
            exc = re.search(r"\b(\w+(?:Error|Exception))\b", failed[p])
            ax.text(i, above(bottom, 0.02) if log_scale else 0.02 * top,
                    "failed" + (f" ({exc.group(1)})" if exc else ""),
                    ha="center", va="bottom", rotation=90, fontsize=8, color="#a50f15")
            continue
        s = timings[p]
        med = s["median"] * 1e6
        ax.bar(i, med - bottom, bottom=bottom, color=colors.get(p, "0.3"),
               yerr=[[med - s["q1"] * 1e6], [s["q3"] * 1e6 - med]], capsize=4)
        ax.text(i, above(s["q3"] * 1e6, 0.01), common.fmt_time(s["median"]), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=15, fontsize=8)
    if log_scale:
        ax.set_yscale("log")
        ax.set_ylim(bottom, top * 2)
    else:
        ax.set_ylim(0, top * 1.12)
    ax.set_ylabel("wall time per call [us] (median, IQR bars)" + (", log scale" if log_scale else ""))
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="y", which="both" if log_scale else "major", alpha=0.3)

    rnames = [r for r in RATIO_DEFS if ratios.get(r) is not None]
    vals = [ratios[r] for r in rnames]
    rlog = bool(vals) and max(vals) > 30 * max(min(vals), 1e-300)
    ax2.barh(range(len(rnames)), vals, color=["#31a354" if r.startswith("srcgrad") else "0.55" for r in rnames])
    for j, v in enumerate(vals):
        ax2.text(v, j, f" {v:.2f}", va="center", fontsize=8)
    ax2.axvline(1.0, color="k", lw=0.8)
    ax2.set_yticks(range(len(rnames)))
    ax2.set_yticklabels(rnames, fontsize=8)
    ax2.invert_yaxis()
    if rlog:
        ax2.set_xscale("log")
        ax2.set_xlim(min(vals + [1.0]) / 2, max(vals) * 3)
    else:
        ax2.set_xlim(0, max(vals + [1.0]) * 1.18)
    ax2.set_xlabel("ratio of median times" + (", log scale" if rlog else ""))
    ax2.set_title("time ratios", fontsize=10)
    ax2.grid(True, axis="x", alpha=0.3)
    fig.text(0.5, 0.005, subtitle, ha="center", va="bottom", fontsize=7, alpha=0.8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.mlp", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="7 repeats; one start-up run per peer")
    ap.add_argument("--repeats", type=int, default=None, help="timing samples per peer (default 30, quick 7)")
    ap.add_argument("--startup-pairs", type=int, default=None, help="fresh-process first calls per peer "
                    "(default 3, quick 1; 0 skips them)")
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="torch.set_num_threads(N) before anything runs (default: PyTorch's own default)")
    ap.add_argument("--skip-srcgrad", action="store_true", help="check and time only the other peers")
    ap.add_argument("--variants", default="inlined,calls", help="srcgrad variants (default inlined,calls)")
    ap.add_argument("--require-srcgrad", action="store_true", help="exit with code 3 if any srcgrad variant failed")
    ap.add_argument("--out", default=None, help="output path stem (default bench/results/mlp or mlp_quick)")
    ap.add_argument("--tiny", action="store_true", help="2 repeats, no fresh processes (tests)")
    ap.add_argument("--out-dir", default=None, help="where the JSON and PNG go (default bench/results)")
    opts = ap.parse_args(argv)
    tiny = opts.tiny
    quick = opts.quick or tiny
    if opts.out is None:
        stem = "mlp_tiny" if tiny else ("mlp_quick" if quick else "mlp")
        opts.out = os.path.join(opts.out_dir, stem) if opts.out_dir else str(common.RESULTS_DIR / stem)
    repeats = opts.repeats or (2 if tiny else 7 if quick else 30)
    startup_pairs = opts.startup_pairs if opts.startup_pairs is not None else (0 if tiny else 1 if quick else 3)
    min_sample_s = 2e-4 if tiny else 2e-3 if quick else 1e-2
    size = (BATCH, D_IN, HIDDEN, CLASSES)
    variants = [v for v in opts.variants.split(",") if v]
    t_begin = time.perf_counter()
    machine = common.machine_info(("numpy", "numba", "llvmlite", "scipy", "jax", "jaxlib", "torch", "srcgrad"))

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    notes: list[str] = []
    if JAX_ERROR:
        notes.append(f"jax unavailable: {JAX_ERROR}")
    if TORCH_ERROR:
        notes.append(f"torch unavailable: {TORCH_ERROR}")
    torch_threads = None
    if torch is not None:
        default_threads = torch.get_num_threads()
        if opts.torch_threads is not None:
            torch.set_num_threads(opts.torch_threads)
        torch_threads = {"num_threads": torch.get_num_threads(), "default_num_threads": default_threads,
                         "set_by_option": opts.torch_threads is not None,
                         "num_interop_threads": torch.get_num_interop_threads()}

    # ---- build everything ---------------------------------------------------------
    log("compiling the Numba forward and JAX functions ...")
    mlp_forward_nb(*mlp_args(5, 3, 4, 3))
    jfwd = jgrad = None
    if jax is not None:
        jfwd = common.blocking(make_jax_fwd())
        jgrad = common.blocking(make_jax_grad())

    srcgrad_peers: list[common.SrcgradPeer] = []
    if not opts.skip_srcgrad:
        for v in variants:
            sp = common.SrcgradPeer(VARIANTS[v][0], WRT, log, variant=v)
            log(f"building {sp.name} = srcgrad.grad({sp.fn.__name__}, wrt={WRT}) ...")
            sp.build(mlp_args(*size, seed=2))
            srcgrad_peers.append(sp)
    else:
        notes.append("run with --skip-srcgrad: srcgrad not checked or timed")

    # ---- checks ---------------------------------------------------------------------
    log("checking values and gradients ...")
    checks, hard = [], []
    for csize, seed in CHECK_SIZES:
        rec, fails = run_checks(csize, seed, srcgrad_peers, jfwd, jgrad)
        checks.append(rec)
        hard += fails
    if hard:
        print("\nCHECK FAILED -- non-srcgrad peers disagree; no timings reported.\n", file=sys.stderr)
        for f in hard:
            print(f, file=sys.stderr)
        return 2
    log("  all non-srcgrad checks passed" + ("; " + ", ".join(f"{sp.name}: {sp.status}" for sp in srcgrad_peers)
                                             if srcgrad_peers else ""))

    # ---- tape -------------------------------------------------------------------------
    args = mlp_args(*size)
    tape: dict = {}
    for sp in srcgrad_peers:
        if not sp.ok:
            continue
        try:
            b = int(sp.g.tape_bytes(*args))
            tape[sp.name] = {"bytes": b, "bytes_per_example": b / BATCH}
        except Exception as exc:  # noqa: BLE001
            tape[sp.name] = {"error": common.describe_exception(exc)}
            notes.append(f"{sp.name}.tape_bytes raised: {common.describe_exception(exc)}")

    # ---- timing -----------------------------------------------------------------------
    log(f"timing {size_label(size)} ({repeats} repeats) ...")
    peers = {"numba_fwd": (mlp_forward_nb, args)}
    if jax is not None:
        jargs = jax_args(args)
        peers["jax_fwd"] = (jfwd, jargs)
        peers["jax_grad"] = (jgrad, jargs)
    if torch is not None:
        peers["torch_autograd"] = (torch_grad, torch_args(args))
    for sp in srcgrad_peers:
        if sp.ok:
            peers[sp.name] = (sp.g, args)
    timings = common.time_interleaved(peers, repeats, min_sample_s)
    ratios = {name: (timings[a]["median"] / timings[b]["median"] if a in timings and b in timings else None)
              for name, (a, b) in RATIO_DEFS.items()}

    # ---- first call ---------------------------------------------------------------------
    first_call: dict = {}
    if startup_pairs > 0:
        log("measuring first-call latency in fresh subprocesses ...")
        first_call = _first_call_runs(startup_pairs, size, [sp.variant for sp in srcgrad_peers if sp.ok], log)

    # ---- output ---------------------------------------------------------------------------
    srcgrad_status = {sp.name: sp.status for sp in srcgrad_peers}
    result = {
        "benchmark": "mlp",
        "description": "gradient of the mean softmax cross-entropy of relu(x @ W1 + b1) @ W2 + b2 "
                       "w.r.t. (W1, b1, W2, b2); user code with helper functions (calls) and inlined",
        "problem": {"batch": BATCH, "d_in": D_IN, "hidden": HIDDEN, "classes": CLASSES, "dtype": "float64",
                    "gradient_size": D_IN * HIDDEN + HIDDEN + HIDDEN * CLASSES + CLASSES,
                    "data": "W1 = N(0,1)/sqrt(d), W2 = N(0,1)/sqrt(H), b1, b2 = 0.1 N(0,1), x = N(0,1), "
                            "labels uniform, one-hot float64; numpy default_rng, seed 0"},
        "config": {"quick": quick, "repeats": repeats, "min_sample_s": min_sample_s, "startup_pairs": startup_pairs,
                   "rtol_value": RTOL_VALUE, "rtol_jax_torch": RTOL_JAX_TORCH, "rtol_srcgrad": RTOL_SRCGRAD,
                   "floor_rel": FLOOR_REL, "rtol_fd": RTOL_FD,
                   "fd": f"4th-order central along {FD_DIRECTIONS} random unit directions, step {FD_STEP:g}, "
                         "Numba forward; directions crossing a ReLU kink within 2.5 steps redrawn",
                   "variants": variants, "torch_threads": torch_threads},
        "machine": machine,
        "srcgrad_status": srcgrad_status,
        "srcgrad_failures": {sp.name: sp.failures for sp in srcgrad_peers},
        "srcgrad_in_process_build_and_first_call_s": {sp.name: sp.build_and_first_call_s for sp in srcgrad_peers},
        "checks": checks,
        "timings": timings,
        "ratios": ratios,
        "tape": tape,
        "first_call": first_call,
        "notes": notes,
    }

    failed = {sp.name: sp.status[len("failed: "):] for sp in srcgrad_peers if not sp.ok}
    bar_plot(opts.out + ".png", timings, ratios, failed,
             title=f"2-layer MLP loss (n={BATCH}, d={D_IN}, H={HIDDEN}, C={CLASSES}, float64): "
                   "grad w.r.t. W1, b1, W2, b2",
             subtitle=f"{machine['cpu_model']}, {machine['cpu_count']} cores; numba {machine['versions']['numba']}, "
                      f"jax {machine['versions']['jax']}, torch {machine['versions']['torch']}"
                      + ("" if torch_threads is None else f" ({torch_threads['num_threads']} threads)")
                      + f"; {repeats} repeats; {machine['date_utc']}"
                      + "".join(f"; {n}: {s.split(':')[0]}" for n, s in srcgrad_status.items()))

    # ---- tables ------------------------------------------------------------------------------
    def fr(x):
        return "-" if x is None else f"{x:.2f}"

    fwd = timings["numba_fwd"]["median"]
    rows = []
    for p in PEER_ORDER:
        s = timings.get(p)
        if s is None:
            if p in failed:
                rows.append([p, "failed", "-", "-", "-", "-"])
            continue
        rows.append([p, common.fmt_time(s["median"]), common.fmt_time(s["q1"]), common.fmt_time(s["q3"]),
                     f"{100 * s['iqr'] / s['median']:.0f}%", fr(s["median"] / fwd)])
    print()
    print(f"2-layer MLP, {size_label(size)}: wall time per call ({repeats} repeats, interleaved)")
    print(common.format_table(["peer", "median", "q1", "q3", "IQR", "vs numba_fwd"], rows))
    print()
    print(common.format_table(["ratio", "value"], [[r, fr(v)] for r, v in ratios.items() if v is not None]))
    if tape:
        print()
        print(common.format_table(["srcgrad variant", "tape bytes", "B per example"],
                                  [[n, t.get("bytes", t.get("error")),
                                    "-" if "bytes" not in t else f"{t['bytes_per_example']:g}"]
                                   for n, t in tape.items()]))
    fc_rows = []
    for key in sorted(k for k in first_call if k.endswith("_summary")):
        s = first_call[key]
        fc_rows.append([key[: -len("_summary")], common.fmt_time(s["first_call_total_s"]["median"]),
                        common.fmt_time(s["process_wall_s"]["median"])])
    if fc_rows:
        print(f"\nFirst call in a fresh process (median of {startup_pairs}; construct + compile + one call)")
        print(common.format_table(["peer", "construct+1st call", "process wall"], fc_rows))
    if torch_threads is not None:
        print(f"\ntorch threads: {torch_threads['num_threads']} (interop {torch_threads['num_interop_threads']})")
    for sp in srcgrad_peers:
        print(f"{sp.name}: {sp.status}")
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
    if opts.require_srcgrad and any(not sp.ok for sp in srcgrad_peers):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
