"""Benchmark: second derivatives (issue 5) beside JAX.

* the dense Hessian of the n = 100 Rosenbrock function (srcgrad.hessian: one
  Hessian-vector product per coordinate; JAX: jit(hessian));
* a Hessian-vector product of Rosenbrock at n = 1,000,000 (srcgrad.hvp, reverse
  over forward; JAX: jit(jvp(grad)), forward over reverse);
* the k-means Newton step of GradBench's kmeans eval, written here from its math:
  cost = sum over points of the min over centroids of the squared distance; the
  Hessian in the centroids is diagonal, so one Hessian-vector product with ones
  gives it, and the step is grad / diag.

srcgrad runs the user's loops; JAX runs vectorized versions of the same math.
Values are checked against each other (and the Rosenbrock Hessian against its
closed form) before anything is timed.

    python -m bench.second_order [--quick] [--save]   # bench/results/local/ (bench/results/ with --save)
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from . import common

# --------------------------------------------------------------------------
# the user functions (plain loops)
# --------------------------------------------------------------------------


def rosenbrock(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        t = x[i + 1] - x[i] * x[i]
        u = 1.0 - x[i]
        s = s + 100.0 * t * t + u * u
    return s


def kmeans_cost(centroids, points):
    k = centroids.shape[0]
    d = points.shape[1]
    total = 0.0
    for i in range(points.shape[0]):
        best = math.inf
        for j in range(k):
            dist = 0.0
            for c in range(d):
                diff = points[i, c] - centroids[j, c]
                dist = dist + diff * diff
            if dist < best:
                best = dist
        total = total + best
    return total


def rosenbrock_hessian_closed_form(x):
    n = x.size
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i + 1, i + 1] += 200
        H[i, i + 1] -= 400 * x[i]
        H[i + 1, i] -= 400 * x[i]
    return H


# --------------------------------------------------------------------------
# JAX versions
# --------------------------------------------------------------------------


def _jax():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    def rosen(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def kmeans(c, p):
        d2 = jnp.sum((p[:, None, :] - c[None, :, :]) ** 2, axis=-1)
        return jnp.sum(jnp.min(d2, axis=1))

    hess = jax.jit(jax.hessian(rosen))
    g = jax.grad(rosen)
    hvp = jax.jit(lambda x, v: jax.jvp(g, (x,), (v,))[1])
    kg = jax.grad(kmeans)

    def newton(c, p):
        grad, hdiag = jax.jvp(lambda c: kg(c, p), (c,), (jnp.ones_like(c),))
        return grad / hdiag

    return (common.blocking(hess), common.blocking(hvp), common.blocking(jax.jit(newton)))


# --------------------------------------------------------------------------


def srcgrad_newton(grad_fn, hvp_fn):
    def step(c, p):
        return grad_fn(c, p) / hvp_fn(c, p, np.ones_like(c))
    return step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.second_order", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, 5 repeats")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--save", action="store_true", help="write into bench/results (tracked), not bench/results/local")
    ap.add_argument("--out", default=None, help="output path stem (default <results>/second_order[_quick])")
    args = ap.parse_args(argv)
    import srcgrad

    repeats = args.repeats or (5 if args.quick else 21)
    n_dense, n_hvp = (100, 100_000) if args.quick else (100, 1_000_000)
    km_n, km_k, km_d = (1000, 10, 8) if args.quick else (10_000, 25, 8)
    rng = np.random.default_rng(0)
    results: dict = {"machine": common.machine_info(("numpy", "numba", "llvmlite", "srcgrad", "jax", "jaxlib")),
                     "workloads": {}}
    try:
        jhess, jhvp, jnewton = _jax()
        jax_error = None
    except Exception as exc:  # noqa: BLE001 - JAX is an optional peer
        jhess = jhvp = jnewton = None
        jax_error = common.describe_exception(exc)

    # dense Hessian ---------------------------------------------------------
    x = rng.uniform(-1.0, 1.5, size=n_dense)
    hess = srcgrad.hessian(rosenbrock)
    H = hess(x)
    common.check_close("srcgrad Hessian vs closed form", H, rosenbrock_hessian_closed_form(x), 1e-10)
    peers = {"srcgrad hessian": (hess, (x,))}
    if jhess is not None:
        common.check_close("JAX Hessian vs srcgrad", np.asarray(jhess(x)), H, 1e-10)
        peers["JAX jit(hessian)"] = (jhess, (x,))
    t = common.time_interleaved(peers, repeats)
    results["workloads"]["dense_hessian"] = {"n": n_dense, "times": t}

    # Hessian-vector product --------------------------------------------------
    x = rng.uniform(-1.0, 1.5, size=n_hvp)
    v = rng.normal(size=n_hvp)
    hvp = srcgrad.hvp(rosenbrock)
    grad = srcgrad.grad(rosenbrock)
    hv = hvp(x, v)
    d = np.zeros(n_hvp)
    d[:-1] += (1200 * x[:-1] ** 2 - 400 * x[1:] + 2) * v[:-1] - 400 * x[:-1] * v[1:]
    d[1:] += 200 * v[1:] - 400 * x[:-1] * v[:-1]
    common.check_close("srcgrad hvp vs closed form", hv, d, 1e-9)
    fwd = common.blocking(lambda x: rosenbrock_nb(x))
    peers = {"srcgrad hvp": (hvp, (x, v)), "srcgrad grad": (grad, (x,)), "Numba forward": (fwd, (x,))}
    if jhvp is not None:
        common.check_close("JAX hvp vs srcgrad", np.asarray(jhvp(x, v)), hv, 1e-9)
        peers["JAX jit(jvp(grad))"] = (jhvp, (x, v))
    t = common.time_interleaved(peers, repeats)
    results["workloads"]["hvp"] = {"n": n_hvp, "times": t}

    # k-means Newton step -------------------------------------------------------
    pts = rng.normal(size=(km_n, km_d))
    cents = pts[rng.choice(km_n, km_k, replace=False)] + 0.01
    kgrad = srcgrad.grad(kmeans_cost)
    khvp = srcgrad.hvp(kmeans_cost)
    step = srcgrad_newton(kgrad, khvp)
    s = step(cents, pts)
    peers = {"srcgrad grad / hvp(ones)": (step, (cents, pts))}
    if jnewton is not None:
        common.check_close("JAX Newton step vs srcgrad", np.asarray(jnewton(cents, pts)), s, 1e-9)
        peers["JAX jit(grad / jvp(grad, ones))"] = (jnewton, (cents, pts))
    t = common.time_interleaved(peers, repeats)
    results["workloads"]["kmeans_newton"] = {"n": km_n, "k": km_k, "d": km_d, "times": t}
    results["jax_error"] = jax_error

    results_dir = common.RESULTS_DIR if args.save else common.LOCAL_RESULTS_DIR
    stem = args.out or str(results_dir / f"second_order{'_quick' if args.quick else ''}")
    common.write_json(stem + ".json", results)
    print(f"wrote {stem}.json")
    for name, w in results["workloads"].items():
        size = ", ".join(f"{k}={v}" for k, v in w.items() if k != "times")
        rows = [[peer, common.fmt_time(st["median"]), f"{st['iqr'] / st['median'] * 100:.1f}%"]
                for peer, st in w["times"].items()]
        print(f"\n{name} ({size})")
        print(common.format_table(["peer", "median", "IQR"], rows))
    if jax_error:
        print(f"\nJAX did not run: {jax_error}")
    return 0


import numba  # noqa: E402

rosenbrock_nb = numba.njit(rosenbrock)

if __name__ == "__main__":
    sys.exit(main())
