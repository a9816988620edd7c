"""Benchmark: GradBench's ``ba`` eval (ADBench bundle adjustment): the per-observation Jacobian.

Run from the project root::

    python -m bench.ba            # full run: 1,000 .. 1,000,000 observations
    python -m bench.ba --quick    # smoke run

Workload (GradBench ``evals/ba``, from ADBench)
-----------------------------------------------
Each observation ``i`` sees point ``X[i % m]`` through camera ``cams[i % n]`` (11
parameters: Rodrigues rotation, centre, focal length, principal point, two radial
distortion coefficients); its two reprojection residuals are
``w_i (project(cam, X) - feat_i)``, and its weight residual ``1 - w_i^2``.  The
Jacobian of all residuals is sparse: row ``2i`` and ``2i + 1`` have 15 nonzeros
(11 camera, 3 point, 1 weight entries), row ``2p + i`` one (``-2 w_i``).

How the Jacobian is a gradient.  Each residual depends only on its own
observation's camera, point and weight.  So give every residual its own copy of
them: rows ``0 .. p-1`` of ``cams_r``, ``X_r``, ``w_r`` feed the first residual
component of observations ``0 .. p-1``, rows ``p .. 2p-1`` the second component.
The gradient of ``F = sum_i r_{i, 0}(copy i) + r_{i, 1}(copy p + i)`` with respect
to the copies is then exactly the two Jacobian rows of every observation, from one
reverse sweep (as two sweeps of the per-observation gradient would give them).
The weight rows are ``-2 w`` and need no differentiation.  The copies are made
once, outside the timed call, for every peer; so is the assembly of the sparse
matrix (``jacobian_coo``).  The user function is a loop over the ``2p`` rows with
the projection in scalar arithmetic (GradBench's ``computeReprojError``).

The inputs: random cameras near the origin looking down ``+z``, points at depth 5
to 10, so every projection is well defined.  (GradBench itself repeats one
camera, one point and one feature ``n``, ``m`` and ``p`` times: ``bench.gradbench``
takes that input.)

Peers: Numba forward, srcgrad on the loop, JAX, PyTorch and autograd on the same
``F`` vectorised over the rows, tangent-ad on the loop.  No hand-written adjoint
(ADBench's manual one is a few hundred lines).
"""

from __future__ import annotations

import math
import sys

import numpy as np

from bench import runner

NCAM = 11


def ba_sizes(p: int) -> tuple[int, int, int]:
    """(cameras, points, observations) with the proportions of ADBench's ba1 (49, 7776, 31843)."""
    return max(2, p // 600), max(3, p // 4), p


def ba_problem(p: int, seed: int = 0) -> dict:
    """Cameras (n, 11), points (m, 3), weights (p,), features (p, 2), observations (p, 2)."""
    n, m, p = ba_sizes(p)
    rng = np.random.default_rng(seed + 1000003 * p)
    cams = np.empty((n, NCAM))
    cams[:, 0:3] = 0.2 * rng.standard_normal((n, 3))  # rotation
    cams[:, 3:6] = 0.1 * rng.standard_normal((n, 3))  # centre
    cams[:, 6] = rng.uniform(400.0, 600.0, n)  # focal length
    cams[:, 7:9] = rng.standard_normal((n, 2))  # principal point
    cams[:, 9] = 0.1 * rng.standard_normal(n)  # k1
    cams[:, 10] = 0.01 * rng.standard_normal(n)  # k2
    X = np.empty((m, 3))
    X[:, 0:2] = rng.uniform(-2.0, 2.0, (m, 2))
    X[:, 2] = rng.uniform(5.0, 10.0, m)
    w = rng.uniform(0.5, 1.5, p)
    feats = 100.0 * rng.standard_normal((p, 2))
    obs = np.stack([np.arange(p) % n, np.arange(p) % m], axis=1)
    return {"cams": cams, "X": X, "w": w, "feats": feats, "obs": obs}


def row_copies(prob: dict) -> tuple:
    """(cams_r (2p, 11), X_r (2p, 3), w_r (2p,), feats (p, 2)): one copy per residual component."""
    obs = prob["obs"]
    cams_r = np.concatenate([prob["cams"][obs[:, 0]]] * 2)
    X_r = np.concatenate([prob["X"][obs[:, 1]]] * 2)
    w_r = np.concatenate([prob["w"]] * 2)
    return cams_r, X_r, w_r, prob["feats"]


def ba_args(p: int) -> tuple:
    return row_copies(ba_problem(p))


def ba_rows(cams, X, w, feats):
    """The user function: sum of residual component 0 over rows < p and component 1 over rows >= p."""
    p = feats.shape[0]
    total = 0.0
    for i in range(2 * p):
        pt0 = X[i, 0] - cams[i, 3]
        pt1 = X[i, 1] - cams[i, 4]
        pt2 = X[i, 2] - cams[i, 5]
        r0 = cams[i, 0]
        r1 = cams[i, 1]
        r2 = cams[i, 2]
        sqtheta = r0 * r0 + r1 * r1 + r2 * r2
        if sqtheta != 0.0:
            theta = math.sqrt(sqtheta)
            costheta = math.cos(theta)
            sintheta = math.sin(theta)
            w0 = r0 / theta
            w1 = r1 / theta
            w2 = r2 / theta
            tmp = (w0 * pt0 + w1 * pt1 + w2 * pt2) * (1.0 - costheta)
            xc0 = pt0 * costheta + (w1 * pt2 - w2 * pt1) * sintheta + w0 * tmp
            xc1 = pt1 * costheta + (w2 * pt0 - w0 * pt2) * sintheta + w1 * tmp
            xc2 = pt2 * costheta + (w0 * pt1 - w1 * pt0) * sintheta + w2 * tmp
        else:
            xc0 = pt0 + (r1 * pt2 - r2 * pt1)
            xc1 = pt1 + (r2 * pt0 - r0 * pt2)
            xc2 = pt2 + (r0 * pt1 - r1 * pt0)
        p0 = xc0 / xc2
        p1 = xc1 / xc2
        rsq = p0 * p0 + p1 * p1
        lcoef = 1.0 + cams[i, 9] * rsq + cams[i, 10] * rsq * rsq
        if i < p:
            total += w[i] * (p0 * lcoef * cams[i, 6] + cams[i, 7] - feats[i, 0])
        else:
            total += w[i] * (p1 * lcoef * cams[i, 6] + cams[i, 8] - feats[i - p, 1])
    return total


def _ba_rows_vec(lib, cat, cams, X, w, feats):
    p = feats.shape[0]
    pt0 = X[:, 0] - cams[:, 3]
    pt1 = X[:, 1] - cams[:, 4]
    pt2 = X[:, 2] - cams[:, 5]
    r0, r1, r2 = cams[:, 0], cams[:, 1], cams[:, 2]
    theta = lib.sqrt(r0 * r0 + r1 * r1 + r2 * r2)  # no camera has a zero rotation here
    costheta = lib.cos(theta)
    sintheta = lib.sin(theta)
    w0, w1, w2 = r0 / theta, r1 / theta, r2 / theta
    tmp = (w0 * pt0 + w1 * pt1 + w2 * pt2) * (1.0 - costheta)
    xc0 = pt0 * costheta + (w1 * pt2 - w2 * pt1) * sintheta + w0 * tmp
    xc1 = pt1 * costheta + (w2 * pt0 - w0 * pt2) * sintheta + w1 * tmp
    xc2 = pt2 * costheta + (w0 * pt1 - w1 * pt0) * sintheta + w2 * tmp
    p0 = xc0 / xc2
    p1 = xc1 / xc2
    rsq = p0 * p0 + p1 * p1
    lcoef = 1.0 + cams[:, 9] * rsq + cams[:, 10] * rsq * rsq
    proj0 = p0 * lcoef * cams[:, 6] + cams[:, 7]
    proj1 = p1 * lcoef * cams[:, 6] + cams[:, 8]
    r = cat([w[:p] * (proj0[:p] - feats[:, 0]), w[p:] * (proj1[p:] - feats[:, 1])])
    return lib.sum(r)


def ba_rows_jax(cams, X, w, feats):
    import jax.numpy as jnp
    return _ba_rows_vec(jnp, jnp.concatenate, cams, X, w, feats)


def ba_rows_torch(cams, X, w, feats):
    import torch
    return _ba_rows_vec(torch, torch.cat, cams, X, w, feats)


def ba_rows_autograd(cams, X, w, feats):
    import autograd.numpy as anp
    return _ba_rows_vec(anp, anp.concatenate, cams, X, w, feats)


def ba_rows_tangent(cams, X, w, feats):
    """The loop with NumPy functions and ``len`` (what tangent-ad accepts)."""
    p = len(feats)
    total = 0.0
    for i in range(2 * p):
        pt0 = X[i, 0] - cams[i, 3]
        pt1 = X[i, 1] - cams[i, 4]
        pt2 = X[i, 2] - cams[i, 5]
        r0 = cams[i, 0]
        r1 = cams[i, 1]
        r2 = cams[i, 2]
        theta = np.sqrt(r0 * r0 + r1 * r1 + r2 * r2)
        costheta = np.cos(theta)
        sintheta = np.sin(theta)
        w0 = r0 / theta
        w1 = r1 / theta
        w2 = r2 / theta
        tmp = (w0 * pt0 + w1 * pt1 + w2 * pt2) * (1.0 - costheta)
        xc0 = pt0 * costheta + (w1 * pt2 - w2 * pt1) * sintheta + w0 * tmp
        xc1 = pt1 * costheta + (w2 * pt0 - w0 * pt2) * sintheta + w1 * tmp
        xc2 = pt2 * costheta + (w0 * pt1 - w1 * pt0) * sintheta + w2 * tmp
        p0 = xc0 / xc2
        p1 = xc1 / xc2
        rsq = p0 * p0 + p1 * p1
        lcoef = 1.0 + cams[i, 9] * rsq + cams[i, 10] * rsq * rsq
        if i < p:
            total = total + w[i] * (p0 * lcoef * cams[i, 6] + cams[i, 7] - feats[i, 0])
        else:
            total = total + w[i] * (p1 * lcoef * cams[i, 6] + cams[i, 8] - feats[i - p, 1])
    return total


def jacobian_coo(prob: dict, g_cams, g_X, g_w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The full sparse Jacobian in GradBench's row order (CSR-like ``rows`` of length 3p + 1,
    ``cols``, ``vals``) from the gradient with respect to the row copies."""
    n, m = prob["cams"].shape[0], prob["X"].shape[0]
    p = prob["w"].shape[0]
    obs = prob["obs"]
    per_row = NCAM + 3 + 1
    cols = np.empty((p, 2, per_row), dtype=np.int64)
    vals = np.empty((p, 2, per_row))
    base = np.concatenate([np.arange(NCAM), NCAM * n + np.arange(3), [NCAM * n + 3 * m]])
    for r in range(2):
        cols[:, r, :NCAM] = NCAM * obs[:, 0:1] + base[:NCAM]
        cols[:, r, NCAM:NCAM + 3] = base[NCAM:NCAM + 3] + 3 * obs[:, 1:2]
        cols[:, r, NCAM + 3] = base[NCAM + 3] + np.arange(p)
        sl = slice(r * p, (r + 1) * p)
        vals[:, r, :NCAM] = g_cams[sl]
        vals[:, r, NCAM:NCAM + 3] = g_X[sl]
        vals[:, r, NCAM + 3] = g_w[sl]
    w_cols = NCAM * n + 3 * m + np.arange(p)
    w_vals = -2.0 * prob["w"]
    rows = np.concatenate([per_row * np.arange(2 * p + 1), per_row * 2 * p + 1 + np.arange(p)])
    return rows, np.concatenate([cols.ravel(), w_cols]), np.concatenate([vals.ravel(), w_vals])


def reprojection_loop(cams, X, w, feats, obs):
    """GradBench's ``objective``: reprojection errors (2p) and weight errors (p), as loops (for Numba)."""
    p = w.shape[0]
    reproj = np.empty(2 * p)
    werr = np.empty(p)
    for i in range(p):
        c = obs[i, 0]
        j = obs[i, 1]
        pt0 = X[j, 0] - cams[c, 3]
        pt1 = X[j, 1] - cams[c, 4]
        pt2 = X[j, 2] - cams[c, 5]
        r0 = cams[c, 0]
        r1 = cams[c, 1]
        r2 = cams[c, 2]
        sqtheta = r0 * r0 + r1 * r1 + r2 * r2
        if sqtheta != 0.0:
            theta = math.sqrt(sqtheta)
            costheta = math.cos(theta)
            sintheta = math.sin(theta)
            w0 = r0 / theta
            w1 = r1 / theta
            w2 = r2 / theta
            tmp = (w0 * pt0 + w1 * pt1 + w2 * pt2) * (1.0 - costheta)
            xc0 = pt0 * costheta + (w1 * pt2 - w2 * pt1) * sintheta + w0 * tmp
            xc1 = pt1 * costheta + (w2 * pt0 - w0 * pt2) * sintheta + w1 * tmp
            xc2 = pt2 * costheta + (w0 * pt1 - w1 * pt0) * sintheta + w2 * tmp
        else:
            xc0 = pt0 + (r1 * pt2 - r2 * pt1)
            xc1 = pt1 + (r2 * pt0 - r0 * pt2)
            xc2 = pt2 + (r0 * pt1 - r1 * pt0)
        p0 = xc0 / xc2
        p1 = xc1 / xc2
        rsq = p0 * p0 + p1 * p1
        lcoef = 1.0 + cams[c, 9] * rsq + cams[c, 10] * rsq * rsq
        reproj[2 * i] = w[i] * (p0 * lcoef * cams[c, 6] + cams[c, 7] - feats[i, 0])
        reproj[2 * i + 1] = w[i] * (p1 * lcoef * cams[c, 6] + cams[c, 8] - feats[i, 1])
        werr[i] = 1.0 - w[i] * w[i]
    return reproj, werr


def reprojection_errors(cams, X, w, feats, obs) -> tuple[np.ndarray, np.ndarray]:
    """GradBench's ``objective``: reprojection errors (2p) and weight errors (p), vectorised NumPy."""
    p = w.shape[0]
    cr = np.concatenate([cams[obs[:, 0]]] * 2)
    xr = np.concatenate([X[obs[:, 1]]] * 2)
    pt = xr - cr[:, 3:6]
    rot = cr[:, 0:3]
    sq = np.sum(rot * rot, axis=1)
    theta = np.sqrt(sq)
    safe = np.where(sq != 0.0, theta, 1.0)
    wv = rot / safe[:, None]
    cos_t = np.cos(theta)[:, None]
    sin_t = np.sin(theta)[:, None]
    tmp = np.sum(wv * pt, axis=1)[:, None] * (1.0 - cos_t)
    xc = np.where((sq != 0.0)[:, None], pt * cos_t + np.cross(wv, pt) * sin_t + wv * tmp, pt + np.cross(rot, pt))
    pr = xc[:, 0:2] / xc[:, 2:3]
    rsq = np.sum(pr * pr, axis=1)
    lcoef = 1.0 + cr[:, 9] * rsq + cr[:, 10] * rsq * rsq
    proj = pr * lcoef[:, None] * cr[:, 6:7] + cr[:, 7:9]
    err = w[:, None] * (proj[:p] - feats)
    return err.ravel(), 1.0 - w * w


WORKLOAD = runner.Workload(
    name="ba",
    title="GradBench ba: bundle-adjustment Jacobian",
    fn=ba_rows,
    wrt=(0, 1, 2),
    args=ba_args,
    sizes={"full": [1000, 10000, 100000, 1000000], "quick": [1000, 100000], "tiny": [20]},
    main_size=100000,
    size_label=lambda p: f"p={p:,}",
    x_label="p (observations)",
    kind="array",
    rtol_value=1e-10,
    rtol_fd=1e-6,
    fd_step=1e-2,  # F sums 2p residuals: a larger step keeps their rounding out of the differences
    reference=("jax", "torch", "autograd", "srcgrad", "tangent"),
    peers=[
        runner.jax_peer(ba_rows_jax, (0, 1, 2), "JAX jit(value_and_grad), vectorised over the rows"),
        runner.torch_peer(ba_rows_torch, (0, 1, 2), "PyTorch eager autograd, vectorised over the rows"),
        runner.autograd_peer(ba_rows_autograd, (0, 1, 2), "HIPS autograd, vectorised over the rows"),
        runner.tangent_peer(ba_rows_tangent, (0, 1, 2), "tangent-ad, the loop over the rows"),
        runner.unavailable_peer("hand", "hand", "no hand-written adjoint (ADBench's is a few hundred lines)"),
    ],
    description="""
GradBench's `ba` eval (ADBench bundle adjustment): the sparse Jacobian of the
reprojection residuals `w_i (project(cam, X) - feat_i)` of `p` observations
(Rodrigues rotation, radial distortion), 15 nonzeros per row. Each residual
depends only on its observation's camera, point and weight, so every residual
gets its own copy of them (`2p` rows), and the gradient of the sum of component
0 over the first `p` rows and component 1 over the last `p` rows, with respect
to the copies, is the whole Jacobian in one reverse sweep. The copies and the
sparse assembly are outside the timed call, for every peer. Random cameras and
points (GradBench itself repeats one camera, one point; `bench.gradbench`
takes that input), `m = p/4` points, `n = p/600` cameras.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
