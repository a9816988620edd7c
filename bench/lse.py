"""Benchmark: GradBench's ``lse`` eval, log-sum-exp and its gradient.

Run from the project root::

    python -m bench.lse            # full run: n in 2,500 .. 1,280,000
    python -m bench.lse --quick    # smoke run

Workload (GradBench ``evals/lse``)
----------------------------------
``LSE(x) = a + log(sum_i exp(x_i - a))`` with ``a = max_i x_i``, computed from its
primitive parts (a maximum, a sum), not by a library logsumexp.  ``x ~ U(0, 1)^n``
as GradBench generates it; its sizes run from 2,500 to 1,280,000.  The user
function is two loops (the maximum, then the sum); the gradient flows through the
maximum too (its two contributions cancel exactly in exact arithmetic).

Peers: Numba forward, srcgrad, the hand-written adjoint ``exp(x - LSE(x))``, and
the vectorised expression in JAX (``jit(value_and_grad)``), PyTorch, autograd and
tangent-ad.
"""

from __future__ import annotations

import math
import sys

import numba
import numpy as np

from bench import runner


def lse(x):
    """The user function: LSE by the max trick, as loops."""
    n = x.shape[0]
    a = x[0]
    for i in range(1, n):
        if x[i] > a:
            a = x[i]
    s = 0.0
    for i in range(n):
        s += math.exp(x[i] - a)
    return math.log(s) + a


_lse_nb = numba.njit(lse)


@numba.njit
def lse_hand(x):
    """Hand-written adjoint: (LSE(x), exp(x - LSE(x))), the value from the user function's loops."""
    v = _lse_nb(x)
    g = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        g[i] = math.exp(x[i] - v)
    return v, g


def lse_vec_np(x):
    """Vectorised with NumPy names (tangent-ad transforms NumPy calls)."""
    a = np.max(x)
    return np.log(np.sum(np.exp(x - a))) + a


def _lse_vec(lib, x):
    """The same expression with ``lib``'s max, exp, sum and log (jax.numpy, torch, autograd.numpy)."""
    a = lib.max(x)
    return lib.log(lib.sum(lib.exp(x - a))) + a


def lse_jax(x):
    import jax.numpy as jnp
    return _lse_vec(jnp, x)


def lse_torch(x):
    import torch
    return _lse_vec(torch, x)


def lse_autograd(x):
    import autograd.numpy as anp
    return _lse_vec(anp, x)


def lse_args(n: int) -> tuple:
    rng = np.random.default_rng(31337 + int(n))
    return (rng.random(int(n)),)


WORKLOAD = runner.Workload(
    name="lse",
    title="GradBench lse: log-sum-exp",
    fn=lse,
    args=lse_args,
    sizes={"full": [2500, 20000, 160000, 1280000], "quick": [2500, 160000], "tiny": [100]},
    main_size=160000,
    kind="array",
    hand_tape_bytes=lambda n: 0,
    peers=[
        runner.hand_peer(lse_hand, "hand-written Numba adjoint exp(x - LSE(x))"),
        runner.jax_peer(lse_jax, (0,), "JAX jit(value_and_grad), vectorised jax.numpy"),
        runner.torch_peer(lse_torch, (0,), "PyTorch eager autograd, vectorised"),
        runner.autograd_peer(lse_autograd, (0,), "HIPS autograd, vectorised autograd.numpy"),
        runner.tangent_peer(lse_vec_np, (0,), "tangent-ad, vectorised NumPy"),
    ],
    description="""
GradBench's `lse` eval: `LSE(x) = a + log(sum exp(x - a))`, `a = max x`, from its
primitive parts, `x ~ U(0, 1)^n` as GradBench draws it (n from 2,500 to
1,280,000). srcgrad differentiates two loops (the maximum, then the sum); the
other tools run the vectorised expression.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
