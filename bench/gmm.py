"""Benchmark: gradient of the ADBench / GradBench Gaussian-mixture-model objective.

Run from the project root::

    python -m bench.gmm              # full run: d=10, k=25, n in 100, 1000, 10000
    python -m bench.gmm --quick      # smoke run: n in 100, 300, fewer repeats

Workload
--------
The GMM log-likelihood objective of ADBench (Srajer, Kukelova, Fitzgibbon 2018,
section 4.1; also GradBench's ``gmm`` eval), written here from its definition.
Parameters of a mixture of ``k`` Gaussians in ``d`` dimensions:

* ``alphas`` (k,): unnormalised log mixture weights,
* ``means`` (k, d): component means ``mu_k``,
* ``icf`` (k, d(d+1)/2): per component, first the ``d`` logs of the diagonal of
  the inverse Cholesky factor ``Q_k``, then its strictly-lower-triangular
  entries column by column (column 0 rows 1..d-1, column 1 rows 2..d-1, ...),

data ``x`` (n, d), and Wishart prior parameters ``gamma`` (float) and ``m`` (int)::

    objective = CONSTANT + sum_i logsumexp_k(alpha_k + sum_j icf_kj(j<d)
                                             - 0.5 ||Q_k (x_i - mu_k)||^2)
                - n logsumexp(alpha) + prior
    CONSTANT  = -n d / 2 log(2 pi)
    prior     = sum_k (gamma^2 / 2 ||Q_k||_F^2 - m sum_j log diag(Q_k)_j) - k C
    C         = N d (log gamma - log(2) / 2) - log Gamma_d(N / 2),   N = d + m + 1

with ``log Gamma_d(a) = d(d-1)/4 log(pi) + sum_{j=1..d} lgamma(a + (1-j)/2)``.
This is exactly what ADBench's C++ ``gmm_objective`` and its PyTorch/JAX
references compute (including their ``+`` sign on the prior term, which
GradBench's later specification points out is not a proper log prior; the sign
changes nothing about the cost of differentiating it).  Gradient w.r.t.
``(alphas, means, icf)``: ``k (1 + d + d(d+1)/2)`` = 1,925 numbers at d=10, k=25.

Data as in ADBench's generator: alphas ~ N(0,1), means ~ U(0,1),
icf ~ N(0,1), x ~ N(0,1) (NumPy ``default_rng``, fixed seeds), gamma = 1, m = 0.
The correctness checks also use gamma = 1.3, m = 3 so the ``m`` terms are exercised.

Peers (same process, same arguments)
-----------------------------------
* ``numba_fwd``    -- ``numba.njit`` of ``gmm_objective``, the loop code below: a line-by-line
  transliteration of ADBench's C++ reference (``preprocess_qs``, ``subtract``,
  ``Qtimesx`` into reused work arrays, ``sqnorm``, two-pass ``logsumexp``).
* ``srcgrad``      -- ``srcgrad.grad(gmm_objective, wrt=(0, 1, 2))``.
* ``numba_fwd_scalar`` / ``srcgrad_scalar`` -- the same for ``gmm_objective_scalar``, the same
  math written without overwriting any array inside the data loop: ``Q_k (x_i - mu_k)`` one
  row at a time into a scalar, a streaming (one-pass) logsumexp.  Its forward does the
  same flops; an adjoint needs no saved copies of overwritten work-array entries.
* ``jax_fwd`` / ``jax_grad`` -- ``jax.jit`` of a vectorised ``jax.numpy`` version
  (``gmm_objective_jax``: (n,k,d) broadcast, einsum with the unpacked (k,d,d)
  triangular factors, ``jax.scipy.special.logsumexp``), and ``jax.jit(jax.grad(...,
  argnums=(0,1,2)))`` of it; float64 (``jax_enable_x64``); gamma and m static.  Inputs are
  device arrays made once; every call ends in ``block_until_ready``.  XLA may use both
  cores for its larger ops; the Numba and srcgrad peers are single-threaded.

Checks (before any timing)
--------------------------
Peers other than srcgrad must agree or the run aborts (exit code 2):
plain-Python ``gmm_objective`` and ``gmm_objective_scalar`` vs their Numba forwards vs the
JAX forward (rtol 1e-11) on two small problems and both Wishart settings; the JAX gradient
vs 4th-order central finite differences (step 1e-3) of the Numba forward along 3 random unit
directions (rtol 1e-6) on the small problems; at every timed size the Numba forwards vs the JAX
forward (rtol 1e-11).  srcgrad's gradient is compared with JAX's (componentwise, rtol 1e-9,
components below 1e-6 of the largest held to that scale: see
``common.check_close_scaled``) at every checked size, its ``value_and_grad`` value with the
Numba forward, and its directional derivatives with the finite differences.  If srcgrad
cannot build, raises, or disagrees, it is reported as ``srcgrad: failed: <reason>`` and
left out of the timing; everything else still runs.

Metrics
-------
Wall time per call, median / quartiles / IQR (``common.time_interleaved``: 30 samples, 7
with ``--quick``, peers interleaved); ratios srcgrad / jax_grad and srcgrad / numba_fwd;
first call in a fresh process (construct + compile + one call; srcgrad with an empty and
a warm ``SRCGRAD_CACHE_DIR``, JAX ``jit(grad)``, Numba forward) at n = 1000; srcgrad tape
bytes (``g.tape_bytes``), also per (point, component) pair.

Output: ``bench/results/gmm.json`` and ``gmm.png`` (``gmm_quick.*`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
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
    from jax.scipy.special import logsumexp as _jax_logsumexp

    JAX_ERROR = None
except Exception as _exc:  # noqa: BLE001 - the benchmark still runs its other peers
    jax = jnp = _jax_logsumexp = None
    JAX_ERROR = common.describe_exception(_exc)


# --------------------------------------------------------------------------
# the workload: loop versions (what srcgrad differentiates; Numba compiles them as-is)
# --------------------------------------------------------------------------

def gmm_objective(alphas, means, icf, x, wishart_gamma, wishart_m):
    """ADBench GMM objective, structured like ADBench's C++ reference (work arrays reused)."""
    n = x.shape[0]
    d = x.shape[1]
    k = alphas.shape[0]
    # preprocess_qs: diagonal of Q_k and the sum of its logs
    qdiags = np.zeros((k, d))
    sum_qs = np.zeros(k)
    for ik in range(k):
        s = 0.0
        for j in range(d):
            s += icf[ik, j]
            qdiags[ik, j] = math.exp(icf[ik, j])
        sum_qs[ik] = s
    xcentered = np.zeros(d)
    qxcentered = np.zeros(d)
    main_term = np.zeros(k)
    slse = 0.0
    for ix in range(n):
        for ik in range(k):
            # subtract
            for j in range(d):
                xcentered[j] = x[ix, j] - means[ik, j]
            # Qtimesx: diagonal, then the lower triangle column by column
            for j in range(d):
                qxcentered[j] = qdiags[ik, j] * xcentered[j]
            lidx = d
            for i in range(d):
                for j in range(i + 1, d):
                    qxcentered[j] = qxcentered[j] + icf[ik, lidx] * xcentered[i]
                    lidx += 1
            # sqnorm
            sqn = 0.0
            for j in range(d):
                sqn += qxcentered[j] * qxcentered[j]
            main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sqn
        # logsumexp over components
        mx = main_term[0]
        for ik in range(1, k):
            if main_term[ik] > mx:
                mx = main_term[ik]
        semx = 0.0
        for ik in range(k):
            semx += math.exp(main_term[ik] - mx)
        slse += math.log(semx) + mx
    # logsumexp of alphas
    mx = alphas[0]
    for ik in range(1, k):
        if alphas[ik] > mx:
            mx = alphas[ik]
    semx = 0.0
    for ik in range(k):
        semx += math.exp(alphas[ik] - mx)
    lse_alphas = math.log(semx) + mx
    # log_wishart_prior
    nw = d + wishart_m + 1
    log_gamma_distrib = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(1, d + 1):
        log_gamma_distrib += math.lgamma(0.5 * nw + 0.5 * (1 - j))
    c = nw * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - log_gamma_distrib
    prior = 0.0
    for ik in range(k):
        frob = 0.0
        for j in range(d):
            frob += qdiags[ik, j] * qdiags[ik, j]
        for j in range(d, icf.shape[1]):
            frob += icf[ik, j] * icf[ik, j]
        prior += 0.5 * wishart_gamma * wishart_gamma * frob - wishart_m * sum_qs[ik]
    prior -= k * c
    constant = -n * d * 0.5 * math.log(2.0 * math.pi)
    return constant + slse - n * lse_alphas + prior


def gmm_objective_scalar(alphas, means, icf, x, wishart_gamma, wishart_m):
    """The same objective without overwriting arrays in the data loop (scalar accumulators)."""
    n = x.shape[0]
    d = x.shape[1]
    k = alphas.shape[0]
    qdiags = np.zeros((k, d))
    sum_qs = np.zeros(k)
    for ik in range(k):
        s = 0.0
        for j in range(d):
            s += icf[ik, j]
            qdiags[ik, j] = math.exp(icf[ik, j])
        sum_qs[ik] = s
    slse = 0.0
    for ix in range(n):
        # streaming logsumexp over components: running max mx, running sum se of exp(t - mx)
        mx = -math.inf
        se = 0.0
        for ik in range(k):
            sqn = 0.0
            for r in range(d):
                # row r of Q_k (x_i - mu_k): diagonal plus entries L[r, c], c < r
                v = qdiags[ik, r] * (x[ix, r] - means[ik, r])
                for c in range(r):
                    v += icf[ik, d + c * (2 * d - c - 1) // 2 + r - c - 1] * (x[ix, c] - means[ik, c])
                sqn += v * v
            t = alphas[ik] + sum_qs[ik] - 0.5 * sqn
            if t > mx:
                se = se * math.exp(mx - t) + 1.0
                mx = t
            else:
                se += math.exp(t - mx)
        slse += math.log(se) + mx
    mx = -math.inf
    se = 0.0
    for ik in range(k):
        t = alphas[ik]
        if t > mx:
            se = se * math.exp(mx - t) + 1.0
            mx = t
        else:
            se += math.exp(t - mx)
    lse_alphas = math.log(se) + mx
    nw = d + wishart_m + 1
    log_gamma_distrib = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(1, d + 1):
        log_gamma_distrib += math.lgamma(0.5 * nw + 0.5 * (1 - j))
    c = nw * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - log_gamma_distrib
    prior = 0.0
    for ik in range(k):
        frob = 0.0
        for j in range(d):
            frob += qdiags[ik, j] * qdiags[ik, j]
        for j in range(d, icf.shape[1]):
            frob += icf[ik, j] * icf[ik, j]
        prior += 0.5 * wishart_gamma * wishart_gamma * frob - wishart_m * sum_qs[ik]
    prior -= k * c
    constant = -n * d * 0.5 * math.log(2.0 * math.pi)
    return constant + slse - n * lse_alphas + prior


gmm_forward_nb = numba.njit(gmm_objective)
gmm_forward_scalar_nb = numba.njit(gmm_objective_scalar)

VARIANTS = {
    # name: (user function, its Numba forward, module attribute name of the user function)
    "loops": (gmm_objective, gmm_forward_nb, "gmm_objective"),
    "scalar": (gmm_objective_scalar, gmm_forward_scalar_nb, "gmm_objective_scalar"),
}
WRT = (0, 1, 2)
WRT_NAMES = ("alphas", "means", "icf")


# --------------------------------------------------------------------------
# the workload: vectorised JAX version
# --------------------------------------------------------------------------

def _tril_unpack_index(d: int) -> tuple[np.ndarray, np.ndarray]:
    """(index, mask): ``L[r, c] = icf[index[r, c]]`` where ``mask[r, c]`` (r > c), column-major packing."""
    index = np.zeros((d, d), dtype=np.int64)
    mask = np.zeros((d, d), dtype=bool)
    p = d
    for c in range(d):
        for r in range(c + 1, d):
            index[r, c] = p
            mask[r, c] = True
            p += 1
    return index, mask


def _log_wishart_constant(d: int, wishart_gamma: float, wishart_m: int) -> float:
    """C of the prior: N d (log gamma - log(2)/2) - log Gamma_d(N/2), N = d + m + 1 (plain floats)."""
    nw = d + wishart_m + 1
    lg = 0.25 * d * (d - 1) * math.log(math.pi) + sum(math.lgamma(0.5 * nw + 0.5 * (1 - j)) for j in range(1, d + 1))
    return nw * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - lg


def gmm_objective_jax(alphas, means, icf, x, wishart_gamma, wishart_m):
    """Vectorised jax.numpy version of the same objective (gamma, m must be static Python numbers)."""
    n, d = x.shape
    k = alphas.shape[0]
    index, mask = _tril_unpack_index(d)
    log_qdiag = icf[:, :d]
    qdiags = jnp.exp(log_qdiag)  # (k, d)
    sum_qs = jnp.sum(log_qdiag, axis=1)  # (k,)
    ls = jnp.where(mask[None, :, :], icf[:, index], 0.0)  # (k, d, d), strictly lower
    xc = x[:, None, :] - means[None, :, :]  # (n, k, d)
    qxc = qdiags[None, :, :] * xc + jnp.einsum("krc,nkc->nkr", ls, xc)
    main_term = alphas[None, :] + sum_qs[None, :] - 0.5 * jnp.sum(qxc * qxc, axis=2)  # (n, k)
    slse = jnp.sum(_jax_logsumexp(main_term, axis=1))
    frob = jnp.sum(qdiags * qdiags, axis=1) + jnp.sum(icf[:, d:] * icf[:, d:], axis=1)
    prior = jnp.sum(0.5 * wishart_gamma * wishart_gamma * frob - wishart_m * sum_qs) \
        - k * _log_wishart_constant(d, wishart_gamma, wishart_m)
    constant = -n * d * 0.5 * math.log(2.0 * math.pi)
    return constant + slse - n * _jax_logsumexp(alphas) + prior


def make_jax_fwd():
    """A fresh ``jax.jit`` of the vectorised objective (gamma, m static)."""
    return jax.jit(gmm_objective_jax, static_argnums=(4, 5))


def make_jax_grad():
    """A fresh ``jax.jit(jax.grad(...))`` w.r.t. (alphas, means, icf) (gamma, m static)."""
    return jax.jit(jax.grad(gmm_objective_jax, argnums=WRT), static_argnums=(4, 5))


def make_jax_grad_blocking():
    """``make_jax_grad()`` wrapped to block until the result is ready (for first-call timing)."""
    jg = make_jax_grad()
    return lambda *a: jax.block_until_ready(jg(*a))


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

def gmm_args(d: int, k: int, n: int, seed: int = 0, wishart_gamma: float = 1.0, wishart_m: int = 0) -> tuple:
    """(alphas, means, icf, x, gamma, m) as ADBench generates them, from a fixed seed."""
    rng = np.random.default_rng(1000 * seed + 17)
    alphas = rng.standard_normal(k)
    means = rng.uniform(size=(k, d))
    icf = rng.standard_normal((k, d * (d + 1) // 2))
    x = rng.standard_normal((n, d))
    return (alphas, means, icf, x, float(wishart_gamma), int(wishart_m))


def jax_args(args: tuple) -> tuple:
    return tuple(jnp.asarray(a) for a in args[:4]) + tuple(args[4:])


def size_label(d: int, k: int, n: int) -> str:
    return f"d={d},k={k},n={n}"


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------

RTOL_SAME = 1e-11   # forwards: same math, different summation order
RTOL_PEERS = 1e-9   # gradients, srcgrad vs JAX (scaled, see check_close_scaled)
FLOOR_REL = 1e-6
RTOL_FD = 1e-6
FD_DIRECTIONS = 3
CHECK_PROBLEMS = [(3, 4, 7), (10, 25, 40)]  # (d, k, n) small enough for plain Python
WISHART_SETTINGS = [(1.0, 0), (1.3, 3)]


def _dot_dir(grads, direction) -> float:
    return float(sum(np.sum(np.asarray(grads[i]) * direction[i]) for i in WRT))


def run_checks(d, k, n, srcgrad_peers, jfwd, jgrad, python: bool, fd: bool, settings) -> tuple[list, list]:
    """Checks at one size; returns (records, hard failures).  srcgrad problems only mark the peer."""
    records, hard = [], []
    for gamma, m in settings:
        args = gmm_args(d, k, n, seed=1, wishart_gamma=gamma, wishart_m=m)
        label = f"{size_label(d, k, n)},gamma={gamma},m={m}"
        rec = {"size": [d, k, n], "wishart_gamma": gamma, "wishart_m": m, "max_err": {}}
        records.append(rec)

        def hard_chk(name, got, want, rtol, rec=rec, label=label):
            try:
                rec["max_err"][name] = common.check_close(f"{label}: {name}", got, want, rtol)
            except common.CheckFailed as exc:
                hard.append(str(exc))

        values = {}
        for vname, (fn, fwd_nb, _) in VARIANTS.items():
            values[vname] = float(fwd_nb(*args))
            if python:
                hard_chk(f"numba_fwd[{vname}]_vs_python", values[vname], float(fn(*args)), RTOL_SAME)
        rec["value"] = values["loops"]
        hard_chk("numba_fwd[scalar]_vs_numba_fwd[loops]", values["scalar"], values["loops"], RTOL_SAME)
        g_jax = None
        if jfwd is not None:
            jargs = jax_args(args)
            hard_chk("jax_fwd_vs_numba_fwd", float(jfwd(*jargs)), values["loops"], RTOL_SAME)
            g_jax = tuple(np.asarray(a, dtype=float) for a in jgrad(*jargs))
            for i, nm in zip(WRT, WRT_NAMES):
                if g_jax[i].shape != args[i].shape:
                    hard.append(f"{label}: jax gradient {nm} has shape {g_jax[i].shape}, want {args[i].shape}")
        directions, fds = [], []
        if fd:
            rng = np.random.default_rng(99)
            for r in range(FD_DIRECTIONS):
                direction = {i: rng.standard_normal(args[i].shape) for i in WRT}
                norm = math.sqrt(sum(float(np.sum(v * v)) for v in direction.values()))
                direction = {i: v / norm for i, v in direction.items()}  # unit length: step 1e-3 is 1e-3
                directions.append(direction)
                fds.append(common.fd4_directional(gmm_forward_nb, args, direction, step=1e-3))
            rec["fd_directional"] = fds
            if g_jax is not None:
                hard_chk("jax_grad_vs_fd4_directional", [_dot_dir(g_jax, dr) for dr in directions], fds, RTOL_FD)
        for sp in srcgrad_peers:
            if not sp.ok:
                continue
            g_s = sp.grad(args)
            if g_s is None:
                continue
            try:
                for i, nm in zip(WRT, WRT_NAMES):
                    if g_s[i].shape != args[i].shape:
                        raise common.CheckFailed(f"{label}: srcgrad[{sp.variant}] gradient {nm} has shape "
                                                 f"{g_s[i].shape}, want {args[i].shape}")
                if g_jax is not None:
                    for i, nm in zip(WRT, WRT_NAMES):
                        rec["max_err"][f"srcgrad[{sp.variant}]_{nm}_vs_jax"] = common.check_close_scaled(
                            f"{label}: srcgrad[{sp.variant}] d/d{nm} vs jax", g_s[i], g_jax[i], RTOL_PEERS, FLOOR_REL)
                if directions:
                    rec["max_err"][f"srcgrad[{sp.variant}]_vs_fd4_directional"] = common.check_close(
                        f"{label}: srcgrad[{sp.variant}] directional derivatives vs fd4",
                        [_dot_dir(g_s, dr) for dr in directions], fds, RTOL_FD)
                vg = sp.value_and_grad(args)
                if vg is not None:
                    rec["max_err"][f"srcgrad[{sp.variant}]_value_vs_numba_fwd"] = common.check_close(
                        f"{label}: srcgrad[{sp.variant}] value", vg[0], values[sp.variant], RTOL_SAME)
                    for i, nm in zip(WRT, WRT_NAMES):
                        common.check_close_scaled(f"{label}: srcgrad[{sp.variant}] value_and_grad d/d{nm} vs grad",
                                                  vg[1][i], g_s[i], 1e-14, FLOOR_REL)
            except common.CheckFailed as exc:
                sp.fail("wrong answer: " + str(exc).replace("\n", " | ")[:600])
    return records, hard


# --------------------------------------------------------------------------
# GradBench's gmm eval: its input layout and sign, over its (d, k) grid at n = 1000
# --------------------------------------------------------------------------

def gmm_gradbench(alpha, mu, q, ltri, x, wishart_gamma, wishart_m):
    """GradBench's ``gmm`` objective, the log posterior: scalar loops as in ``gmm_objective_scalar``.

    Differs from ADBench's objective (above) in its input (``q``: logs of the
    diagonals, ``ltri`` (GradBench's ``l``): the strictly lower triangles column by
    column, instead of ``icf = [q | ltri]``) and in the sign of the Wishart log prior, which GradBench's
    specification fixes: ``-sum_k (gamma^2/2 ||Q_k||_F^2 - m sum_j q_kj) + k C``.
    """
    n = x.shape[0]
    d = x.shape[1]
    k = alpha.shape[0]
    qdiags = np.zeros((k, d))
    sum_qs = np.zeros(k)
    for ik in range(k):
        s = 0.0
        for j in range(d):
            s += q[ik, j]
            qdiags[ik, j] = math.exp(q[ik, j])
        sum_qs[ik] = s
    slse = 0.0
    for ix in range(n):
        mx = -math.inf
        se = 0.0
        for ik in range(k):
            sqn = 0.0
            for r in range(d):
                v = qdiags[ik, r] * (x[ix, r] - mu[ik, r])
                for c in range(r):
                    v += ltri[ik, c * (2 * d - c - 1) // 2 + r - c - 1] * (x[ix, c] - mu[ik, c])
                sqn += v * v
            t = alpha[ik] + sum_qs[ik] - 0.5 * sqn
            if t > mx:
                se = se * math.exp(mx - t) + 1.0
                mx = t
            else:
                se += math.exp(t - mx)
        slse += math.log(se) + mx
    mx = -math.inf
    se = 0.0
    for ik in range(k):
        t = alpha[ik]
        if t > mx:
            se = se * math.exp(mx - t) + 1.0
            mx = t
        else:
            se += math.exp(t - mx)
    lse_alpha = math.log(se) + mx
    nw = d + wishart_m + 1
    log_gamma_distrib = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(1, d + 1):
        log_gamma_distrib += math.lgamma(0.5 * nw + 0.5 * (1 - j))
    c = nw * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - log_gamma_distrib
    prior = 0.0
    for ik in range(k):
        frob = 0.0
        for j in range(d):
            frob += qdiags[ik, j] * qdiags[ik, j]
        for j in range(ltri.shape[1]):
            frob += ltri[ik, j] * ltri[ik, j]
        prior += 0.5 * wishart_gamma * wishart_gamma * frob - wishart_m * sum_qs[ik]
    constant = -n * d * 0.5 * math.log(2.0 * math.pi)
    return constant + slse - n * lse_alpha - prior + k * c


def _gradbench_vec(lib, einsum, lse, const, alpha, mu, q, ltri, x, wishart_gamma, wishart_m):
    """The same objective vectorised over (n, k, d) for jax.numpy / torch / autograd.numpy
    (``const`` turns a NumPy constant into the library's array)."""
    n, d = x.shape
    k = alpha.shape[0]
    index, mask = _tril_unpack_index(d)
    index = index - d  # into ltri rather than icf
    index[~mask] = 0
    qdiags = lib.exp(q)
    sum_qs = lib.sum(q, 1)
    ls = ltri[:, const(index.ravel())].reshape((k, d, d)) * const(mask.astype(float)[None, :, :])
    xc = x[:, None, :] - mu[None, :, :]
    qxc = qdiags[None, :, :] * xc + einsum("krc,nkc->nkr", ls, xc)
    main_term = alpha[None, :] + sum_qs[None, :] - 0.5 * lib.sum(qxc * qxc, 2)
    frob = lib.sum(qdiags * qdiags, 1) + lib.sum(ltri * ltri, 1)
    prior = lib.sum(0.5 * wishart_gamma * wishart_gamma * frob - wishart_m * sum_qs)
    constant = -n * d * 0.5 * math.log(2.0 * math.pi)
    return (constant + lib.sum(lse(main_term, 1)) - n * lse(alpha, 0) - prior
            + k * _log_wishart_constant(d, wishart_gamma, wishart_m))


def gmm_gradbench_jax(alpha, mu, q, ltri, x, wishart_gamma, wishart_m):
    return _gradbench_vec(jnp, jnp.einsum, _jax_logsumexp, jnp.asarray, alpha, mu, q, ltri, x, wishart_gamma,
                          wishart_m)


def gmm_gradbench_torch(alpha, mu, q, ltri, x, wishart_gamma, wishart_m):
    import torch
    return _gradbench_vec(torch, torch.einsum, torch.logsumexp, torch.as_tensor, alpha, mu, q, ltri, x,
                          wishart_gamma, wishart_m)


def gmm_gradbench_autograd(alpha, mu, q, ltri, x, wishart_gamma, wishart_m):
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp
    return _gradbench_vec(anp, anp.einsum, logsumexp, np.asarray, alpha, mu, q, ltri, x, wishart_gamma, wishart_m)


def gmm_gradbench_args(size, n: int = 1000, seed: int = 31337, wishart_gamma: float = 1.0,
                       wishart_m: int = 0) -> tuple:
    """(alpha, mu, q, ltri, x, gamma, m) drawn like GradBench's generator (normal, uniform means)."""
    d, k = size
    rng = np.random.default_rng(seed + 100 * d + k)
    x = rng.normal(size=(n, d))
    alpha = rng.normal(size=k)
    mu = rng.uniform(size=(k, d))
    q = rng.normal(size=(k, d))
    ltri = rng.normal(size=(k, d * (d - 1) // 2))
    return (alpha, mu, q, ltri, x, float(wishart_gamma), int(wishart_m))


GRID_N = 1000
GRID_FULL = sorted([(d, k) for d in (2, 10, 20, 32, 64) for k in (5, 10, 25, 50, 100)], key=lambda v: v[0] * v[1])
GRID_WRT = (0, 1, 2, 3)


def _grid_work(size) -> float:
    d, k = size
    return float(GRID_N * k * d * (d + 3) / 2)


def _make_grid_workload():
    from bench import runner
    return runner.Workload(
        name="gmm_grid",
        title="GradBench gmm: the (d, k) grid at n = 1000",
        module=__name__,
        fn=gmm_gradbench,
        wrt=GRID_WRT,
        wrt_names=("alpha", "mu", "q", "l"),
        args=gmm_gradbench_args,
        sizes={"full": GRID_FULL, "quick": [(2, 5), (10, 25)], "tiny": [(2, 3)]},
        main_size={"full": (10, 25), "quick": (10, 25), "tiny": (2, 3)},
        work=_grid_work,
        size_label=lambda s: f"d={s[0]}, k={s[1]}",
        x_label="n k d (d + 3) / 2 (multiply-adds of the data term), n = 1000",
        kind="array",
        reference=("jax", "torch", "autograd", "srcgrad", "tangent"),
        rtol_peers=1e-8,  # at d = 64 a component sums 1000 points' terms in different orders
        timing={"full": {"repeats": 10, "peer_seconds": 2.0}},
        peers=[
            runner.jax_peer(gmm_gradbench_jax, GRID_WRT, "JAX jit(value_and_grad), vectorised (n, k, d) with "
                            "einsum (gamma, m static)", static_argnums=(5, 6)),
            runner.torch_peer(gmm_gradbench_torch, GRID_WRT, "PyTorch eager autograd, vectorised with einsum"),
            runner.autograd_peer(gmm_gradbench_autograd, GRID_WRT, "HIPS autograd, vectorised with einsum"),
            runner.tangent_peer(gmm_gradbench, GRID_WRT, "tangent-ad, the scalar loops of the user function"),
            runner.unavailable_peer("hand", "hand", "no hand-written adjoint (not short)"),
        ],
        description="""
GradBench's `gmm` eval as GradBench specifies it: its input layout (`q` the
logs of the diagonals, `l` the strictly lower triangles column by column) and
its sign of the Wishart log prior (ADBench's code, used by `bench.gmm`'s
main run above, adds the prior with the opposite sign), over GradBench's grid
`d` in 2, 10, 20, 32, 64 and `k` in 5, 10, 25, 50, 100 at `n = 1000`, `gamma = 1`,
`m = 0`. srcgrad differentiates scalar loops (`gmm_gradbench`, the form of the
scalar variant above); JAX, PyTorch and autograd a vectorised `(n, k, d)`
version with `einsum`.
""",
    )


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def _first_call_runs(pairs: int, size: tuple, srcgrad_variants: list[str], log) -> dict:
    """Fresh-process first call: srcgrad cold/warm cache, JAX jit(grad), Numba forward."""
    d, k, n = size
    out: dict = {"size": list(size)}
    fa = dict(args=[d, k, n], args_factory="gmm_args")

    def run(key, **kw):
        try:
            out.setdefault(key, []).append(common.first_call_subprocess("bench.gmm", **kw, **fa))
        except Exception as exc:  # noqa: BLE001
            out.setdefault(key + "_errors", []).append(common.describe_exception(exc, 2000))
            log(f"  {key}: FAILED: {common.describe_exception(exc)}")

    for variant in srcgrad_variants:
        fname = VARIANTS[variant][2]
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
        log(f"  numba forward / jax jit(grad) first call [{i + 1}/{pairs}] ...")
        run("numba_fwd", func="gmm_forward_nb", kind="plain")
        if jax is not None:
            run("jax_grad", func="make_jax_grad_blocking", kind="factory")
    return common.summarize_first_calls(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.gmm", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="n in 100, 300; 7 repeats; one start-up run")
    ap.add_argument("--repeats", type=int, default=None, help="timing samples per peer and size (default 30, quick 7)")
    ap.add_argument("--skip-srcgrad", action="store_true", help="check and time only the other peers")
    ap.add_argument("--variants", default="loops,scalar", help="loop variants for srcgrad (default loops,scalar)")
    ap.add_argument("--require-srcgrad", action="store_true", help="exit with code 3 if any srcgrad peer failed")
    ap.add_argument("--out", default=None, help="output path stem (default bench/results/gmm or gmm_quick)")
    ap.add_argument("--grid", action="store_true",
                    help="instead: GradBench's formulation over its (d, k) grid at n = 1000, every peer "
                         "(bench/runner.py; writes gmm_grid.json)")
    ap.add_argument("--tiny", action="store_true", help="smallest sizes, 2 repeats, no fresh processes (tests)")
    ap.add_argument("--startup-pairs", type=int, default=None,
                    help="fresh-process first calls per peer (default 3, quick 1, tiny 0)")
    ap.add_argument("--out-dir", default=None, help="where the JSON and PNG go (default bench/results)")
    opts = ap.parse_args(argv)
    if opts.grid:
        from bench import runner
        mode = "tiny" if opts.tiny else ("quick" if opts.quick else "full")
        res = runner.run_workload(WORKLOAD_GRID, mode, repeats=opts.repeats, out_dir=opts.out_dir)
        return 2 if res["hard_failures"] else 0
    tiny = opts.tiny
    quick = opts.quick or tiny
    if opts.out is None:
        stem = "gmm_tiny" if tiny else ("gmm_quick" if quick else "gmm")
        opts.out = str(Path(opts.out_dir) / stem if opts.out_dir else common.RESULTS_DIR / stem)
    repeats = opts.repeats or (2 if tiny else 7 if quick else 30)
    d, k = 10, 25
    ns = [40] if tiny else [100, 300] if quick else [100, 1000, 10000]
    main_n = 40 if tiny else 300 if quick else 1000
    min_sample_s = 2e-4 if tiny else 2e-3 if quick else 1e-2
    startup_pairs = opts.startup_pairs if opts.startup_pairs is not None else (0 if tiny else 1 if quick else 3)
    variants = [v for v in opts.variants.split(",") if v]
    t_begin = time.perf_counter()
    machine = common.machine_info(("numpy", "numba", "llvmlite", "jax", "jaxlib", "srcgrad"))

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    notes: list[str] = []
    if JAX_ERROR:
        notes.append(f"jax unavailable: {JAX_ERROR}")

    # ---- build everything ---------------------------------------------------------
    log("compiling Numba forwards and JAX functions ...")
    warm = gmm_args(3, 4, 5)
    for _, fwd, _ in VARIANTS.values():
        fwd(*warm)
    jfwd = jgrad = None
    if jax is not None:
        jfwd = common.blocking(make_jax_fwd())
        jgrad = common.blocking(make_jax_grad())

    srcgrad_peers: list[common.SrcgradPeer] = []
    if not opts.skip_srcgrad:
        for v in variants:
            sp = common.SrcgradPeer(VARIANTS[v][0], WRT, log, variant=v)
            log(f"building srcgrad gradient of {sp.fn.__name__} ...")
            sp.build(gmm_args(d, k, 20))
            srcgrad_peers.append(sp)
    else:
        notes.append("run with --skip-srcgrad: srcgrad not checked or timed")

    # ---- checks ---------------------------------------------------------------------
    log("checking values and gradients ...")
    checks, hard = [], []
    for (cd, ck, cn) in CHECK_PROBLEMS:
        recs, fails = run_checks(cd, ck, cn, srcgrad_peers, jfwd, jgrad, python=True, fd=True,
                                 settings=WISHART_SETTINGS)
        checks += recs
        hard += fails
    for n in ns:
        recs, fails = run_checks(d, k, n, srcgrad_peers, jfwd, jgrad, python=False, fd=(n <= 1000),
                                 settings=WISHART_SETTINGS[:1])
        checks += recs
        hard += fails
    if hard:
        print("\nCHECK FAILED -- non-srcgrad peers disagree; no timings reported.\n", file=sys.stderr)
        for f in hard:
            print(f, file=sys.stderr)
        return 2
    log("  all non-srcgrad checks passed; srcgrad: " +
        ", ".join(f"{sp.variant}: {sp.status}" for sp in srcgrad_peers) if srcgrad_peers else "  all checks passed")

    # ---- tape -------------------------------------------------------------------------
    tape: dict = {}
    for sp in srcgrad_peers:
        if not sp.ok:
            continue
        tape[sp.variant] = {}
        for n in ns:
            try:
                b = int(sp.g.tape_bytes(*gmm_args(d, k, n)))
                tape[sp.variant][n] = {"bytes": b, "bytes_per_point_component": b / (n * k)}
            except Exception as exc:  # noqa: BLE001
                tape[sp.variant][n] = {"error": common.describe_exception(exc)}
                notes.append(f"srcgrad[{sp.variant}].tape_bytes raised at n={n}: {common.describe_exception(exc)}")

    # ---- timing -----------------------------------------------------------------------
    timings: dict = {}
    for n in ns:
        log(f"timing {size_label(d, k, n)} ({repeats} repeats) ...")
        args = gmm_args(d, k, n)
        peers = {"numba_fwd": (gmm_forward_nb, args), "numba_fwd_scalar": (gmm_forward_scalar_nb, args)}
        if jax is not None:
            jargs = jax_args(args)
            peers["jax_fwd"] = (jfwd, jargs)
            peers["jax_grad"] = (jgrad, jargs)
        for sp in srcgrad_peers:
            if sp.ok:
                peers["srcgrad" if sp.variant == "loops" else f"srcgrad_{sp.variant}"] = (sp.g, args)
        timings[n] = common.time_interleaved(peers, repeats, min_sample_s)

    def ratio(n, a, b):
        t = timings[n]
        return t[a]["median"] / t[b]["median"] if a in t and b in t else None

    ratio_defs = {
        "srcgrad/jax_grad": ("srcgrad", "jax_grad"),
        "srcgrad/numba_fwd": ("srcgrad", "numba_fwd"),
        "srcgrad_scalar/jax_grad": ("srcgrad_scalar", "jax_grad"),
        "srcgrad_scalar/numba_fwd_scalar": ("srcgrad_scalar", "numba_fwd_scalar"),
        "jax_grad/jax_fwd": ("jax_grad", "jax_fwd"),
        "jax_grad/numba_fwd": ("jax_grad", "numba_fwd"),
        "jax_fwd/numba_fwd": ("jax_fwd", "numba_fwd"),
    }
    ratios = {n: {name: ratio(n, a, b) for name, (a, b) in ratio_defs.items()} for n in ns}

    # ---- first call ---------------------------------------------------------------------
    log("measuring first-call latency in fresh subprocesses ...")
    first_call = _first_call_runs(startup_pairs, (d, k, main_n), [sp.variant for sp in srcgrad_peers if sp.ok], log)

    # ---- output ---------------------------------------------------------------------------
    srcgrad_status = {sp.variant: sp.status for sp in srcgrad_peers}
    result = {
        "benchmark": "gmm",
        "description": "gradient of the ADBench/GradBench GMM objective w.r.t. (alphas, means, icf)",
        "problem": {"d": d, "k": k, "ns": ns, "main_n": main_n, "wishart_gamma": 1.0, "wishart_m": 0,
                    "data": "alphas~N(0,1), means~U(0,1), icf~N(0,1), x~N(0,1); numpy default_rng",
                    "gradient_size": k * (1 + d + d * (d + 1) // 2)},
        "config": {"quick": quick, "repeats": repeats, "min_sample_s": min_sample_s, "startup_pairs": startup_pairs,
                   "rtol_same_arith": RTOL_SAME, "rtol_peers": RTOL_PEERS, "floor_rel": FLOOR_REL, "rtol_fd": RTOL_FD,
                   "fd": f"4th-order central along {FD_DIRECTIONS} random unit directions, step 1e-3, Numba forward",
                   "variants": variants},
        "machine": machine,
        "srcgrad_status": srcgrad_status,
        "srcgrad_failures": {sp.variant: sp.failures for sp in srcgrad_peers},
        "srcgrad_in_process_build_and_first_call_s": {sp.variant: sp.build_and_first_call_s for sp in srcgrad_peers},
        "checks": checks,
        "timings": {str(n): t for n, t in timings.items()},
        "ratios": {str(n): r for n, r in ratios.items()},
        "tape": {v: {str(n): t for n, t in tv.items()} for v, tv in tape.items()},
        "first_call": first_call,
        "notes": notes,
    }

    plot_peers = [p for p in ("numba_fwd", "jax_fwd", "jax_grad", "srcgrad", "numba_fwd_scalar", "srcgrad_scalar")
                  if any(p in timings[n] for n in ns)]
    common.loglog_plot(
        opts.out + ".png", ns,
        {p: [timings[n].get(p) for n in ns] for p in plot_peers},
        title=f"GMM objective (d={d}, k={k}), grad w.r.t. alphas, means, icf",
        xlabel="n (data points)",
        ratios={name: [ratios[n][name] for n in ns]
                for name in ("srcgrad/jax_grad", "srcgrad/numba_fwd", "srcgrad_scalar/jax_grad", "jax_grad/numba_fwd")
                if any(ratios[n][name] is not None for n in ns)},
        subtitle=f"{machine['cpu_model']}, {machine['cpu_count']} cores; numba {machine['versions']['numba']}, "
                 f"jax {machine['versions']['jax']}; {repeats} repeats; {machine['date_utc']}"
                 + "".join(f"; srcgrad[{v}]: {s.split(':')[0]}" for v, s in srcgrad_status.items()),
    )

    # ---- tables ------------------------------------------------------------------------------
    def cell(n, p):
        s = timings[n].get(p)
        return "-" if s is None else f"{common.fmt_time(s['median'])} ({100 * s['iqr'] / s['median']:.0f}%)"

    def fr(x):
        return "-" if x is None else f"{x:.2f}"

    cols = ["numba_fwd", "jax_fwd", "jax_grad", "srcgrad", "numba_fwd_scalar", "srcgrad_scalar"]
    print()
    print(f"GMM objective d={d}, k={k}: median wall time per call (IQR as % of median; {repeats} repeats)")
    print(common.format_table(["n"] + cols, [[f"{n:,}"] + [cell(n, p) for p in cols] for n in ns]))
    print()
    rcols = ["srcgrad/jax_grad", "srcgrad/numba_fwd", "srcgrad_scalar/jax_grad", "srcgrad_scalar/numba_fwd_scalar",
             "jax_grad/jax_fwd", "jax_grad/numba_fwd"]
    print(common.format_table(["n"] + rcols, [[f"{n:,}"] + [fr(ratios[n][c]) for c in rcols] for n in ns]))
    if tape:
        print()
        trows = []
        for v, tv in tape.items():
            for n, t in tv.items():
                trows.append([v, f"{n:,}", t.get("bytes", t.get("error")),
                              "-" if "bytes" not in t else f"{t['bytes'] / 2**20:.2f} MiB",
                              "-" if "bytes" not in t else f"{t['bytes_per_point_component']:.0f}"])
        print(common.format_table(["srcgrad variant", "n", "tape bytes", "", "B per (point, component)"], trows))
    fc_rows = []
    for key in sorted(k_ for k_ in first_call if k_.endswith("_summary")):
        s = first_call[key]
        fc_rows.append([key[: -len("_summary")], common.fmt_time(s["first_call_total_s"]["median"]),
                        common.fmt_time(s["process_wall_s"]["median"])])
    if fc_rows:
        print(f"\nFirst call in a fresh process, n={main_n} "
              f"(median of {startup_pairs}; construct + compile + one call)")
        print(common.format_table(["peer", "construct+1st call", "process wall"], fc_rows))
    goals = {}
    for sp in srcgrad_peers:
        print(f"srcgrad[{sp.variant}]: {sp.status}")
        key = "srcgrad" if sp.variant == "loops" else f"srcgrad_{sp.variant}"
        fwd = "numba_fwd" if sp.variant == "loops" else f"numba_fwd_{sp.variant}"
        t = timings.get(main_n, {})
        if key in t and "jax_grad" in t and fwd in t:
            r_jax = t[key]["median"] / t["jax_grad"]["median"]
            r_fwd = t[key]["median"] / t[fwd]["median"]
            goals[sp.variant] = {"n": main_n, "srcgrad/jax_grad": r_jax, "srcgrad/numba_fwd": r_fwd,
                                 "faster_than_jax": r_jax < 1.0, "within_3x_of_numba_fwd": r_fwd <= 3.0}
            print(f"  goals at n={main_n}: faster than JAX grad: {'yes' if r_jax < 1 else 'no'} ({r_jax:.2f}x); "
                  f"within 3x of its Numba forward: {'yes' if r_fwd <= 3 else 'no'} ({r_fwd:.2f}x)")
    result["goals"] = goals
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


WORKLOAD_GRID = _make_grid_workload()
WORKLOAD = WORKLOAD_GRID  # what ``python -m bench.runner child bench.gmm ...`` builds

if __name__ == "__main__":
    sys.exit(main())
