"""Benchmark: GradBench's ``kmeans`` eval, a Newton step of k-means (gradient and Hessian diagonal).

Run from the project root::

    python -m bench.kmeans            # full run: GradBench's (k, n, d) sizes
    python -m bench.kmeans --quick    # smoke run

Workload (GradBench ``evals/kmeans``)
-------------------------------------
For ``n`` points ``P`` and ``k`` centroids ``C`` in ``d`` dimensions the cost is

    f(P, C) = sum_i min_j |C_j - P_i|^2

and the eval asks for the Newton direction ``dir = J / diag(H)``: the gradient in
``C`` divided, component by component, by the Hessian's diagonal.  Points are
``U(0, 1)^(n x d)`` and the centroids are the last ``k`` points, as GradBench's
generator draws them (so every cluster has at least one point).

The user function is three loops (points, centroids, coordinates) with the
minimum as an ``if``.  Away from ties, every point belongs to one centroid ``a(i)``
and ``f`` is the quadratic ``sum_i |C_a(i) - P_i|^2``: its Hessian in ``C`` is
diagonal, ``2 * (number of points of centroid j)`` on the ``d`` entries of centroid
``j`` and zero elsewhere (two centroids, or two coordinates, never meet in one
term).  So ``H @ ones`` *is* the diagonal: srcgrad's peer is
``srcgrad.value_and_grad`` plus one ``srcgrad.hvp`` (reverse over forward) with a
direction of ones, whatever ``k`` and ``d``; the dense ``srcgrad.hessian`` would
need ``k * d`` of them.  JAX does the same with ``jvp`` of ``grad`` along ones
(forward over reverse), PyTorch and autograd with a Hessian-vector product
(reverse over reverse).

Checks, besides the runner's (value against the Numba forward, gradient against
finite differences and against the hand-written adjoint): every peer's Hessian
diagonal and Newton direction against their closed forms, ``2 * count_j`` and
``C_j - mean of the points of centroid j`` (the assignment computed here with
NumPy), and component by component against the reference peer.

Peers: Numba forward, srcgrad (and ``srcgrad_argmin``, the cost written as an
argmin followed by the chosen distance, whose adjoint is sparse), a hand-written Numba adjoint (counts and sums per
cluster), JAX ``jit`` (vectorised, distances by ``|p|^2 + |c|^2 - 2 p.c``), PyTorch
and autograd on the same vectorised form; tangent-ad where it can.
"""

from __future__ import annotations

import math
import sys

import numba
import numpy as np

from bench import common, runner


def kmeans_cost(points, centroids):
    """The user function: GradBench's k-means cost, as loops."""
    n = points.shape[0]
    d = points.shape[1]
    k = centroids.shape[0]
    total = 0.0
    for i in range(n):
        closest = math.inf
        for j in range(k):
            dist = 0.0
            for c in range(d):
                diff = centroids[j, c] - points[i, c]
                dist += diff * diff
            if dist < closest:
                closest = dist
        total += closest
    return total


def kmeans_cost_argmin(points, centroids):
    """The same cost, written for a sparse adjoint: find the nearest centroid's index, then
    add that one distance again.  The search only decides an integer, so srcgrad's reverse
    sweep runs over the d coordinates of one centroid per point (the index is taped)
    instead of all k of them."""
    n = points.shape[0]
    d = points.shape[1]
    k = centroids.shape[0]
    total = 0.0
    for i in range(n):
        closest = math.inf
        best = 0
        for j in range(k):
            dist = 0.0
            for c in range(d):
                diff = centroids[j, c] - points[i, c]
                dist += diff * diff
            if dist < closest:
                closest = dist
                best = j
        for c in range(d):
            diff = centroids[best, c] - points[i, c]
            total += diff * diff
    return total


@numba.njit
def kmeans_hand(points, centroids):
    """Hand-written adjoint: (cost, gradient, Hessian diagonal, Newton direction)."""
    n, d = points.shape
    k = centroids.shape[0]
    counts = np.zeros(k)
    sums = np.zeros((k, d))
    total = 0.0
    for i in range(n):
        closest = math.inf
        best = 0
        for j in range(k):
            dist = 0.0
            for c in range(d):
                diff = centroids[j, c] - points[i, c]
                dist += diff * diff
            if dist < closest:
                closest = dist
                best = j
        total += closest
        counts[best] += 1.0
        for c in range(d):
            sums[best, c] += points[i, c]
    g = np.empty((k, d))
    h = np.empty((k, d))
    for j in range(k):
        for c in range(d):
            g[j, c] = 2.0 * (counts[j] * centroids[j, c] - sums[j, c])
            h[j, c] = 2.0 * counts[j]
    return total, g, h, g / h


def kmeans_args(size) -> tuple:
    k, n, d = size
    rng = np.random.default_rng(31337 + 7 * k + 11 * n + d)
    points = rng.random((n, d))
    return points, points[-k:].copy()  # GradBench: the last k points, so no cluster is empty


# --------------------------------------------------------------------------
# srcgrad: value_and_grad + one hvp along ones
# --------------------------------------------------------------------------

class KMeansSrcgrad:
    """``(cost, gradient, H @ ones, gradient / (H @ ones))`` from srcgrad's public API.

    H is diagonal (see the module docstring), so one Hessian-vector product with a
    direction of ones is its diagonal: reverse mode over the tangent function, one
    sweep of each, for any k and d."""

    def __init__(self, fn=kmeans_cost):
        import srcgrad
        self.vg = srcgrad.value_and_grad(fn, wrt=1)
        self.hvp = srcgrad.hvp(fn, wrt=1)
        self._ones = None

    def __call__(self, points, centroids):
        value, g = self.vg(points, centroids)
        ones = self._ones
        if ones is None or ones.shape != centroids.shape:
            ones = self._ones = np.ones_like(centroids)
        h = self.hvp(points, centroids, ones)
        return value, g, h, g / h

    def tape_bytes(self, points, centroids) -> int:
        return int(self.vg.tape_bytes(points, centroids))


def _four(out) -> tuple:
    v, g, h, step = out
    return float(v), (np.asarray(g, float),), {"hdiag": np.asarray(h, float), "dir": np.asarray(step, float)}


SRCGRAD_PEER = runner.Peer("srcgrad", "srcgrad.value_and_grad of the user function + srcgrad.hvp(ones) for the "
                           "Hessian diagonal", "srcgrad", make=KMeansSrcgrad, result=_four)
SRCGRAD_ARGMIN_PEER = runner.Peer(
    "srcgrad_argmin", "the same with the cost written as an argmin, then the chosen distance "
    "(`kmeans_cost_argmin`)", "srcgrad", make=lambda: KMeansSrcgrad(kmeans_cost_argmin), result=_four)


# --------------------------------------------------------------------------
# the other tools (vectorised: distances by |p|^2 + |c|^2 - 2 p.c)
# --------------------------------------------------------------------------

def _jax_make():
    jax = runner.load("jax")
    jnp = jax.numpy

    def cost(points, centroids):
        d2 = (jnp.sum(points * points, axis=1)[:, None] + jnp.sum(centroids * centroids, axis=1)[None, :]
              - 2.0 * points @ centroids.T)
        return jnp.sum(jnp.min(d2, axis=1))

    vg = jax.value_and_grad(cost, argnums=1)

    def newton(points, centroids):
        # forward over reverse: the tangent of the gradient along ones is H @ ones = diag(H)
        (v, g), (_, h) = jax.jvp(lambda c: vg(points, c), (centroids,), (jnp.ones_like(centroids),))
        return v, g, h, g / h

    return common.blocking(jax.jit(newton))


def _jax_convert(args):
    jnp = runner.load("jax").numpy
    return tuple(jnp.asarray(a) for a in args)


def _torch_make():
    torch = runner.load("torch")

    def cost(points, centroids):
        d2 = ((points * points).sum(dim=1)[:, None] + (centroids * centroids).sum(dim=1)[None, :]
              - 2.0 * points @ centroids.T)
        return d2.min(dim=1).values.sum()

    def newton(points, centroids):
        centroids.grad = None
        v = cost(points, centroids)
        (g,) = torch.autograd.grad(v, centroids, create_graph=True)
        (h,) = torch.autograd.grad(g, centroids, torch.ones_like(centroids))  # reverse over reverse: H @ ones
        g = g.detach()
        return v.detach(), g, h, g / h

    return newton


def _torch_convert(args):
    torch = runner.load("torch")
    points, centroids = args
    return torch.from_numpy(points), torch.tensor(centroids, dtype=torch.float64, requires_grad=True)


def _torch_result(out):
    v, g, h, step = out
    return _four((float(v), g.numpy(), h.numpy(), step.numpy()))


def _autograd_make():
    autograd = runner.load("autograd")
    import autograd.numpy as anp

    def cost(points, centroids):
        d2 = (anp.sum(points * points, axis=1)[:, None] + anp.sum(centroids * centroids, axis=1)[None, :]
              - 2.0 * anp.dot(points, centroids.T))
        return anp.sum(anp.min(d2, axis=1))

    vg = autograd.value_and_grad(cost, 1)
    hvp = autograd.hessian_vector_product(cost, 1)  # reverse over reverse

    def newton(points, centroids):
        v, g = vg(points, centroids)
        h = hvp(points, centroids, np.ones_like(centroids))
        return v, g, h, g / h

    return newton


def _tangent_make():
    tangent = runner.load("tangent")
    try:
        df = tangent.grad(kmeans_cost, wrt=(1,), verbose=0)
    except Exception as exc:  # noqa: BLE001 - tangent's transform refused the function
        raise runner.Unavailable(f"tangent.grad refused the loops: {runner._tangent_reason(exc)}") from None
    raise runner.Unavailable(f"tangent.grad transformed the loops ({df.__name__}), but a Hessian diagonal needs "
                             "forward over reverse (tangent.autodiff of the generated adjoint), not tried here")


PEERS = [
    SRCGRAD_ARGMIN_PEER,
    runner.Peer("hand", "hand-written Numba adjoint: counts and sums per cluster", "hand",
                make=lambda: kmeans_hand, result=_four),
    runner.Peer("jax", "JAX jit: value_and_grad, then jvp of it along ones (forward over reverse), vectorised",
                "jax", make=_jax_make, convert=_jax_convert, result=_four),
    runner.Peer("torch", "PyTorch eager: grad with create_graph, then grad of <grad, ones> (reverse over "
                "reverse), vectorised", "torch", make=_torch_make, convert=_torch_convert, result=_torch_result),
    runner.Peer("autograd", "HIPS autograd value_and_grad + hessian_vector_product(ones), vectorised",
                "autograd", make=_autograd_make, result=_four),
]


# --------------------------------------------------------------------------
# the closed forms every peer is checked against
# --------------------------------------------------------------------------

_CLOSED: dict = {}


def closed_form(points, centroids):
    """(gradient, Hessian diagonal, Newton direction) from the assignment, computed with NumPy."""
    key = (id(points), id(centroids), points.shape, centroids.shape)
    hit = _CLOSED.get(key)
    if hit is not None and hit[0] is points and hit[1] is centroids:
        return hit[2]
    n, d = points.shape
    k = centroids.shape[0]
    owner = np.empty(n, dtype=np.int64)
    chunk = max(1, 2_000_000 // max(1, k * d))
    for s in range(0, n, chunk):
        diff = points[s:s + chunk, None, :] - centroids[None, :, :]
        owner[s:s + chunk] = np.argmin(np.einsum("ijc,ijc->ij", diff, diff), axis=1)  # first minimum, as `<`
    counts = np.bincount(owner, minlength=k).astype(float)
    sums = np.zeros((k, d))
    np.add.at(sums, owner, points)
    grad = 2.0 * (counts[:, None] * centroids - sums)
    hdiag = np.repeat(2.0 * counts[:, None], d, axis=1)
    step = centroids - sums / counts[:, None]
    out = (grad, hdiag, step)
    _CLOSED.clear()
    _CLOSED[key] = (points, centroids, out)
    return out


def check_peer(size, args, value, grads, extras) -> float:
    grad, hdiag, step = closed_form(*args)
    errs = [common.check_close_scaled(f"{size}: gradient vs 2 (count C - sum of its points)", grads[0], grad,
                                      1e-9, 1e-6),
            common.check_close_scaled(f"{size}: Hessian diagonal vs 2 count", extras["hdiag"], hdiag, 1e-12, 1e-6),
            common.check_close_scaled(f"{size}: Newton direction vs C - mean of its points", extras["dir"], step,
                                      1e-9, 1e-6)]
    return max(errs)


WORKLOAD = runner.Workload(
    name="kmeans",
    title="GradBench kmeans: a Newton step (gradient and Hessian diagonal)",
    fn=kmeans_cost,
    wrt=(1,),
    args=kmeans_args,
    sizes={"full": [(10, 1000, 8), (10, 10000, 8), (100, 1000, 16), (100, 10000, 8), (100, 10000, 16),
                    (1000, 10000, 16)],
           "quick": [(10, 1000, 8), (100, 10000, 8)],
           "tiny": [(5, 200, 3)]},
    main_size=(100, 10000, 8),
    size_label=lambda s: f"k={s[0]:,}, n={s[1]:,}, d={s[2]}",
    work=lambda s: float(s[0] * s[1] * s[2]),
    x_label="k n d",
    kind="loop",
    srcgrad=SRCGRAD_PEER,
    extra_outputs=("hdiag", "dir"),
    peer_check=check_peer,
    fd_step=1e-5,  # the cost is piecewise quadratic: a small step rarely moves a point to another centroid
    peers=PEERS + [runner.Peer("tangent", "tangent-ad", "tangent", make=_tangent_make)],
    hand_tape_bytes=lambda s: 0,
    description="""
GradBench's `kmeans` eval: the cost `sum_i min_j |C_j - P_i|^2` of `n` points in
`d` dimensions and `k` centroids (the last `k` points, as GradBench draws them),
and the Newton direction `gradient / diag(H)` in the centroids. srcgrad
differentiates the three loops (the minimum is an `if`): `value_and_grad`, plus
one `hvp` along a vector of ones, which is the diagonal because the Hessian is
diagonal (`2 count_j` on centroid `j`'s entries). `srcgrad_argmin` is the same
cost written as a search for the nearest centroid's index followed by that one
distance again: the search decides only an integer, so the reverse sweep
touches one centroid per point instead of all `k`. The other tools run a
vectorised form (distances by `|p|^2 + |c|^2 - 2 p.c`): JAX `jvp` of
`value_and_grad` along ones, PyTorch and autograd a Hessian-vector product.
Times are for the whole step: value, gradient, diagonal and direction. Every
peer's diagonal and direction are checked against `2 count_j` and `C_j - mean of
its points` before timing.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
