"""Benchmark: gradient of the ADBench / GradBench Gaussian-mixture-model objective.

Run from the project root::

    python -m bench.gmm              # full run: d=10, k=25, n in 100, 1000, 10000
    python -m bench.gmm --quick      # smoke run: n in 100, 300, fewer repeats
    python -m bench.gmm --grid       # GradBench's formulation over its (d, k) grid, every peer

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

Peers (``bench/runner.py``: same process, same arguments; checks, timing, fresh processes)
------------------------------------------------------------------------------------------
* ``numba_fwd``        -- ``numba.njit`` of ``gmm_objective``, the loop code below: a line-by-line
  transliteration of ADBench's C++ reference (``preprocess_qs``, ``subtract``,
  ``Qtimesx`` into reused work arrays, ``sqnorm``, two-pass ``logsumexp``).
* ``srcgrad``          -- ``srcgrad.value_and_grad(gmm_objective, wrt=(0, 1, 2))``.
* ``numba_fwd_scalar`` / ``srcgrad_scalar`` -- the same for ``gmm_objective_scalar``, the same
  math written without overwriting any array inside the data loop: ``Q_k (x_i - mu_k)`` one
  row at a time into a scalar, a streaming (one-pass) logsumexp.  Its forward does the
  same flops; an adjoint needs no saved copies of overwritten work-array entries.
  ``srcgrad_scalar``'s gradient/forward ratio is against ``numba_fwd_scalar``.
* ``jax_fwd`` / ``jax`` -- ``jax.jit`` of a vectorised ``jax.numpy`` version
  (``gmm_objective_jax``: (n,k,d) broadcast, einsum with the unpacked (k,d,d)
  triangular factors, ``jax.scipy.special.logsumexp``), and ``jax.jit(jax.value_and_grad(...,
  argnums=(0,1,2)))`` of it; float64; gamma and m static.  XLA may use both cores for its
  larger ops; the Numba and srcgrad peers are single-threaded.

The runner's checks run at every timed size (JAX is the reference gradient) and, untimed, on
two small problems with both Wishart settings (``CHECK_SIZES``), where the Numba forwards are
also compared with the plain-Python functions.  The section shows srcgrad's tape per (point,
component) pair beside the times.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from bench import runner


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


WRT = (0, 1, 2)


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
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp
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
    slse = jnp.sum(logsumexp(main_term, axis=1))
    frob = jnp.sum(qdiags * qdiags, axis=1) + jnp.sum(icf[:, d:] * icf[:, d:], axis=1)
    prior = jnp.sum(0.5 * wishart_gamma * wishart_gamma * frob - wishart_m * sum_qs) \
        - k * _log_wishart_constant(d, wishart_gamma, wishart_m)
    constant = -n * d * 0.5 * math.log(2.0 * math.pi)
    return constant + slse - n * logsumexp(alphas) + prior


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

def gmm_args(d: int, k: int, n: int, wishart_gamma: float = 1.0, wishart_m: int = 0, seed: int = 0) -> tuple:
    """(alphas, means, icf, x, gamma, m) as ADBench generates them, from a fixed seed."""
    rng = np.random.default_rng(1000 * seed + 17)
    alphas = rng.standard_normal(k)
    means = rng.uniform(size=(k, d))
    icf = rng.standard_normal((k, d * (d + 1) // 2))
    x = rng.standard_normal((n, d))
    return (alphas, means, icf, x, float(wishart_gamma), int(wishart_m))


def size_label(size) -> str:
    """``d=10, k=25, n=1,000``, and the Wishart prior's parameters where they are not 1 and 0."""
    d, k, n, *wishart = size
    return f"d={d}, k={k}, n={n:,}" + (", gamma={}, m={}".format(*wishart) if wishart else "")


D, K = 10, 25
# (d, k, n) small enough for plain Python, each with both Wishart settings (gamma, m): m = 3 exercises the m terms
CHECK_SIZES = tuple((d, k, n, gamma, m) for d, k, n in ((3, 4, 7), (10, 25, 40)) for gamma, m in ((1.0, 0), (1.3, 3)))


WORKLOAD = runner.Workload(
    name="gmm",
    title="GMM, ADBench's objective over n",
    fn=gmm_objective,
    wrt=WRT,
    args=lambda size: gmm_args(*size),
    sizes={"full": [(D, K, 100), (D, K, 1000), (D, K, 10000)], "quick": [(D, K, 100), (D, K, 300)],
           "tiny": [(D, K, 40)]},
    main_size=(D, K, 1000),
    check_sizes=CHECK_SIZES,
    size_label=size_label,
    work=lambda size: float(size[2]),
    x_label=f"n (data points), d = {D}, k = {K}",
    kind="array",
    tape_unit=("(point, component)", lambda size: size[1] * size[2]),
    peers=[
        runner.numba_forward_peer(gmm_objective_scalar, name="numba_fwd_scalar",
                                  label="numba.njit of gmm_objective_scalar (value only)"),
        runner.srcgrad_peer(gmm_objective_scalar, WRT, "srcgrad.value_and_grad of gmm_objective_scalar",
                            name="srcgrad_scalar", own_forward="numba_fwd_scalar"),
        runner.jax_forward_peer(gmm_objective_jax, "JAX jit of a vectorised jax.numpy version (value only; "
                                "gamma, m static)", static_argnums=(4, 5)),
        runner.jax_peer(gmm_objective_jax, WRT, "JAX jit(value_and_grad) of it", static_argnums=(4, 5),
                        own_forward="jax_fwd"),
    ],
    description="""
The ADBench Gaussian-mixture objective (d = 10, k = 25; gradient with respect to
alphas, means and the inverse-Cholesky factors: 1,925 numbers) over the number
of points `n`, written as plain loops in two ways: `gmm_objective` (`srcgrad`), a
transliteration of ADBench's C++ reference, which reuses work arrays for every
(point, component) pair, and `gmm_objective_scalar` (`srcgrad_scalar`), the same
math without overwriting arrays in the data loop. Peers: the Numba forward of
each, JAX `jit` and `jit(value_and_grad)` of a vectorised `jax.numpy` version
(x64). GradBench's formulation, over its (d, k) grid and with every peer, is the
`gmm_grid` section.
""",
)


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
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp
    return _gradbench_vec(jnp, jnp.einsum, logsumexp, jnp.asarray, alpha, mu, q, ltri, x, wishart_gamma, wishart_m)


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


WORKLOAD_GRID = runner.Workload(
    name="gmm_grid",
    title="GradBench gmm: the (d, k) grid at n = 1000",
    fn=gmm_gradbench,
    wrt=GRID_WRT,
    args=gmm_gradbench_args,
    sizes={"full": GRID_FULL, "quick": [(2, 5), (10, 25)], "tiny": [(2, 3)]},
    main_size=(10, 25),
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


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv, alternatives={"grid": WORKLOAD_GRID})


if __name__ == "__main__":
    sys.exit(main())
