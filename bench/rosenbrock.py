"""Benchmark: gradient of the n-dimensional Rosenbrock function, written as a scalar loop.

Run from the project root::

    python -m bench.rosenbrock            # full run: n in 1e2 .. 1e6
    python -m bench.rosenbrock --quick    # smoke run

Workload
--------
::

    f(x) = sum_{i < n-1} 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2

at ``x ~ U(-1.5, 1.5)^n`` (fixed seed), gradient with respect to ``x``.  The user
function is a Python loop reading ``x[i]`` and ``x[i+1]``.

Peers: the Numba forward, srcgrad, a hand-written Numba adjoint (one loop forward,
one backward: the speed limit), JAX ``jit(value_and_grad)`` of the loop as
``lax.fori_loop`` and of the vectorised ``jax.numpy`` expression, PyTorch, autograd
and tangent-ad on the same Python loop (one scalar tape entry per operation and an
indexing op per element read), and PyTorch and autograd on the vectorised NumPy
expression (how a user of those libraries would write it).
"""

from __future__ import annotations

import sys

import numba
import numpy as np

from bench import runner


def rosenbrock(x):
    """The user function: a plain loop over the array."""
    s = 0.0
    for i in range(x.shape[0] - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        s += 100.0 * a * a + b * b
    return s


@numba.njit
def rosenbrock_hand(x):
    """Hand-written adjoint: (value, gradient)."""
    n = x.shape[0]
    s = 0.0
    g = np.zeros(n)
    for i in range(n - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        s += 100.0 * a * a + b * b
        g[i] += -400.0 * a * x[i] - 2.0 * b
        g[i + 1] += 200.0 * a
    return s, g


def rosenbrock_vec_np(x):
    """Vectorised NumPy form (autograd.numpy / torch tensors / jax.numpy all accept it)."""
    a = x[1:] - x[:-1] * x[:-1]
    b = 1.0 - x[:-1]
    return (100.0 * a * a + b * b).sum()


def rosenbrock_jax_loop(x):
    from jax import lax

    def body(i, s):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        return s + 100.0 * a * a + b * b

    return lax.fori_loop(0, x.shape[0] - 1, body, 0.0)


def rosenbrock_autograd_vec(x):
    import autograd.numpy as anp
    a = x[1:] - x[:-1] * x[:-1]
    b = 1.0 - x[:-1]
    return anp.sum(100.0 * a * a + b * b)


def rosenbrock_args(n: int) -> tuple:
    rng = np.random.default_rng(20240 + int(n))
    return (rng.uniform(-1.5, 1.5, size=int(n)),)


WORKLOAD = runner.Workload(
    name="rosenbrock",
    title="Rosenbrock (scalar loop over an array)",
    fn=rosenbrock,
    args=rosenbrock_args,
    sizes={"full": [10**2, 10**3, 10**4, 10**5, 10**6], "quick": [10**2, 10**4], "tiny": [50]},
    main_size=10**5,
    kind="scalar_loop",
    hand_tape_bytes=lambda n: 0,
    peers=[
        runner.hand_peer(rosenbrock_hand, "hand-written Numba adjoint (no tape: the loop is recomputed "
                                          "in the same pass)"),
        runner.jax_peer(rosenbrock_jax_loop, (0,), "JAX jit(value_and_grad), the loop as lax.fori_loop"),
        runner.jax_peer(rosenbrock_vec_np, (0,), "JAX jit(value_and_grad), vectorised jax.numpy",
                        name="jax_vec"),
        runner.torch_peer(rosenbrock, (0,), "PyTorch eager autograd, the same Python loop"),
        runner.torch_peer(rosenbrock_vec_np, (0,), "PyTorch eager autograd, vectorised", name="torch_vec"),
        runner.autograd_peer(rosenbrock, (0,), "HIPS autograd, the same Python loop"),
        runner.autograd_peer(rosenbrock_autograd_vec, (0,), "HIPS autograd, vectorised autograd.numpy",
                             name="autograd_vec"),
        runner.tangent_peer(rosenbrock, (0,), "tangent-ad, the same Python loop"),
    ],
    description="""
The n-dimensional Rosenbrock function `sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2`
written as a Python loop over a NumPy array, gradient with respect to `x`
(`x ~ U(-1.5, 1.5)^n`). PyTorch, autograd and tangent run the same loop; the
`_vec` peers run the vectorised expression instead, as a user of those libraries
would write it. Reading `x[i]` in PyTorch and autograd records an indexing
operation whose adjoint is a full-size array, so their loop versions grow
faster than linearly.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
