"""Benchmark: GradBench's ``llsq`` eval, a linear least-squares objective.

Run from the project root::

    python -m bench.llsq            # full run: m = 128, n in 16 .. 16,392
    python -m bench.llsq --quick    # smoke run

Workload (GradBench ``evals/llsq``, from cmpad's ``llsq_obj``)
-------------------------------------------------------------
::

    y(x) = 1/2 sum_{i<n} (s_i - x_0 - x_1 t_i - x_2 t_i^2 - ...)^2
    t_i = -1 + 2 i / (n - 1),   s_i = sign(t_i)

``x`` has ``m = 128`` entries ``~ U(0, 1)`` (GradBench's default), ``n`` runs from 16
to 16,392.  The user function is the double loop of the definition (powers of
``t_i`` by repeated multiplication).

Peers: Numba forward, srcgrad, a hand-written Numba adjoint, the vectorised
form (a Vandermonde matrix of the ``t_i`` times ``x``) in JAX, PyTorch and autograd,
and the loops in tangent-ad (which cannot differentiate the vectorised form).
"""

from __future__ import annotations

import sys

import numba
import numpy as np

from bench import runner

M = 128


def llsq(x, n):
    """The user function: GradBench's llsq objective as loops."""
    m = x.shape[0]
    total = 0.0
    for i in range(n):
        ti = -1.0 + i * 2.0 / (n - 1)
        r = 1.0 if ti > 0.0 else (-1.0 if ti < 0.0 else 0.0)
        mul = 1.0
        for j in range(m):
            r -= x[j] * mul
            mul *= ti
        total += r * r
    return total / 2.0


@numba.njit
def llsq_hand(x, n):
    """Hand-written adjoint: (y, dy/dx)."""
    m = x.shape[0]
    total = 0.0
    g = np.zeros(m)
    for i in range(n):
        ti = -1.0 + i * 2.0 / (n - 1)
        r = 1.0 if ti > 0.0 else (-1.0 if ti < 0.0 else 0.0)
        mul = 1.0
        for j in range(m):
            r -= x[j] * mul
            mul *= ti
        total += r * r
        mul = 1.0
        for j in range(m):
            g[j] -= r * mul
            mul *= ti
    return total / 2.0, g


def _design(t, m, lib):
    """Columns t^0 .. t^(m-1) by repeated multiplication (as the loops do)."""
    cols = [lib.ones_like(t)]
    for _ in range(m - 1):
        cols.append(cols[-1] * t)
    return lib.stack(cols, 1)


def llsq_jax(x, n):
    import jax.numpy as jnp
    t = -1.0 + jnp.arange(n) * 2.0 / (n - 1)
    r = jnp.sign(t) - _design(t, x.shape[0], jnp) @ x
    return 0.5 * jnp.sum(r * r)


def llsq_torch(x, n):
    import torch
    t = -1.0 + torch.arange(n, dtype=torch.float64) * 2.0 / (n - 1)
    r = torch.sign(t) - _design(t, x.shape[0], torch) @ x
    return 0.5 * torch.sum(r * r)


def llsq_autograd(x, n):
    import autograd.numpy as anp
    t = -1.0 + np.arange(n) * 2.0 / (n - 1)
    r = np.sign(t) - anp.dot(_design(t, x.shape[0], np), x)
    return 0.5 * anp.sum(r * r)


def llsq_tangent(x, n):
    """The loop version as tangent-ad accepts it (no ``x.shape`` assignment)."""
    total = 0.0
    for i in range(n):
        ti = -1.0 + i * 2.0 / (n - 1)
        r = np.sign(ti)
        mul = 1.0
        for j in range(len(x)):
            r = r - x[j] * mul
            mul = mul * ti
        total = total + r * r
    return total / 2.0


def llsq_args(n: int) -> tuple:
    rng = np.random.default_rng(31337 + int(n))
    return (rng.random(M), int(n))


WORKLOAD = runner.Workload(
    name="llsq",
    title="GradBench llsq: linear least squares",
    fn=llsq,
    args=llsq_args,
    sizes={"full": [16, 128, 1024, 8196, 16392], "quick": [16, 1024], "tiny": [16]},
    main_size=1024,
    work=lambda n: float(n * M),
    x_label="n (data points) x m (= 128 unknowns)",
    size_label=lambda n: f"n={n:,}, m={M}",
    kind="array",
    hand_tape_bytes=lambda n: 0,
    peers=[
        runner.hand_peer(llsq_hand, "hand-written Numba adjoint (recomputes the powers, no tape)"),
        runner.jax_peer(llsq_jax, (0,), "JAX jit(value_and_grad), vectorised (Vandermonde matrix)",
                        static_argnums=(1,)),
        runner.torch_peer(llsq_torch, (0,), "PyTorch eager autograd, vectorised"),
        runner.autograd_peer(llsq_autograd, (0,), "HIPS autograd, vectorised"),
        runner.tangent_peer(llsq_tangent, (0,), "tangent-ad, the loops (it has no reverse rule for "
                            "np.arange or np.vander, which a vectorised form needs; it rejects `m = x.shape[0]`)"),
    ],
    description="""
GradBench's `llsq` eval (cmpad's `llsq_obj`): `y(x) = 1/2 sum_i (s_i - sum_j x_j t_i^j)^2`
with `t_i = -1 + 2i/(n-1)`, `s_i = sign(t_i)`, `m = 128` unknowns `~ U(0, 1)`.
srcgrad and tangent differentiate the double loop of the definition; JAX,
PyTorch and autograd a Vandermonde matrix-vector product.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
