"""Benchmark: gradient of explicit heat-equation stencils written with NumPy slices (1-D and 2-D).

Run from the project root::

    python -m bench.stencil              # full run: 1-D heat, (points, steps) up to (1024, 2000)
    python -m bench.stencil --quick      # smoke run: 256 points, 500 steps
    python -m bench.stencil --2d         # instead: 2-D diffusion on an N x N grid (the stencil2d workload)
    python -m bench.stencil --2d --quick

Workloads
---------
``stencil``: explicit Euler steps of the 1-D heat equation, the boundary values held
fixed, written as a user writes it::

    u = u0.copy()
    for t in range(steps):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + kappa * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u * u)

``kappa = 0.25`` (stable up to 0.5); ``u0`` one period of a sine plus a ramp (the two ends
differ) plus noise of 0.1 (fixed seed).  Main size 256 points, 500 steps.

``stencil2d``: the same on an ``(N, N)`` grid with the five-point Laplacian::

    u_new[1:-1, 1:-1] = u[1:-1, 1:-1] + kappa * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:]
                                                 + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1])

``kappa = 0.2`` (stable up to 0.25), ``u0`` a product of sines plus noise; main size
N = 64, 100 steps.

Both take the gradient of ``sum(u * u)`` at the end with respect to ``(u0, kappa)``; the
loss is a polynomial in them (smooth everywhere).  Sizes are ``(points, steps)``
(``(N, steps)`` in 2-D).

Peers (``bench/runner.py``: checks, timing, extrapolation, fresh processes)
-------------------------------------------------------------------------
* ``numba_fwd`` -- ``numba.njit`` of the user function (value only).
* ``srcgrad``   -- ``srcgrad.value_and_grad(heat, wrt=(0, 1))`` (``heat2d`` in 2-D).
* ``hand``      -- a hand-written Numba adjoint with explicit loops: the forward stores every
  state (``8 points`` bytes a step, ``8 N^2`` in 2-D), the reverse loop gathers each cell's adjoint from its
  interior neighbours (``kappa``'s adjoint in the same pass).  The reference.
* ``jax``       -- ``jax.jit(jax.value_and_grad(...))`` of the same step with ``.at[].set``
  inside ``lax.fori_loop``, ``steps`` static.
* ``torch``     -- PyTorch eager, the user function's form (``clone`` and slice assignment),
  a Python loop over the steps.
* ``autograd``  -- HIPS autograd, the new state assembled with ``np.concatenate`` (autograd
  has no slice assignment), a Python loop over the steps.

PyTorch and autograd stop at the size where one call would exceed the mode's limit, and
their time beyond is extrapolated (marked so).
"""

from __future__ import annotations

import dataclasses
import math
import sys

import numba
import numpy as np

from bench import runner

WRT = (0, 1)
KAPPA_1D = 0.25
KAPPA_2D = 0.2


# --------------------------------------------------------------------------
# the workloads: the user functions
# --------------------------------------------------------------------------

def heat(u0, kappa, steps):
    """sum(u * u) after ``steps`` explicit steps of the 1-D heat equation, ends fixed (the user function)."""
    u = u0.copy()
    for t in range(steps):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + kappa * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u * u)


def heat2d(u0, kappa, steps):
    """sum(u * u) after ``steps`` explicit steps of 2-D diffusion, edges fixed (the user function)."""
    u = u0.copy()
    for t in range(steps):
        u_new = u.copy()
        u_new[1:-1, 1:-1] = u[1:-1, 1:-1] + kappa * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2]
                                                     - 4.0 * u[1:-1, 1:-1])
        u = u_new
    return np.sum(u * u)


heat_nb = numba.njit(heat)
heat2d_nb = numba.njit(heat2d)


# --------------------------------------------------------------------------
# the hand-written adjoints
# --------------------------------------------------------------------------

@numba.njit
def heat_hand(u0, kappa, steps):
    """Hand adjoint of ``heat``: (loss, dL/du0, dL/dkappa), every state stored.

    Backwards, with ``w`` the adjoint of the state after a step, zero at the two fixed
    ends: ``ub[j] = ub_next[j] + kappa (w[j+1] - 2 w[j] + w[j-1])`` and
    ``kappa_b += sum_j w[j] (u[j+1] - 2 u[j] + u[j-1])``."""
    n = u0.shape[0]
    us = np.empty((steps + 1, n))
    for j in range(n):
        us[0, j] = u0[j]
    for t in range(steps):
        u = us[t]
        un = us[t + 1]
        un[0] = u[0]
        un[n - 1] = u[n - 1]
        for j in range(1, n - 1):
            un[j] = u[j] + kappa * (u[j + 1] - 2.0 * u[j] + u[j - 1])
    last = us[steps]
    loss = 0.0
    for j in range(n):
        loss += last[j] * last[j]
    ub = np.empty(n)
    for j in range(n):
        ub[j] = 2.0 * last[j]
    w = np.zeros(n)
    ubn = np.empty(n)
    kb = 0.0
    for t in range(steps - 1, -1, -1):
        u = us[t]
        for j in range(1, n - 1):
            w[j] = ub[j]
        ubn[0] = ub[0] + kappa * w[1]
        ubn[n - 1] = ub[n - 1] + kappa * w[n - 2]
        for j in range(1, n - 1):
            ubn[j] = ub[j] + kappa * (w[j + 1] - 2.0 * w[j] + w[j - 1])
            kb += w[j] * (u[j + 1] - 2.0 * u[j] + u[j - 1])
        ub, ubn = ubn, ub
    return loss, ub, kb


@numba.njit
def heat2d_hand(u0, kappa, steps):
    """Hand adjoint of ``heat2d``: (loss, dL/du0, dL/dkappa), every state stored; the reverse step gathers
    each cell's adjoint from its interior neighbours (``w``, the next state's adjoint zeroed on the edges)."""
    n = u0.shape[0]
    m = u0.shape[1]
    us = np.empty((steps + 1, n, m))
    us[0] = u0
    for t in range(steps):
        u = us[t]
        un = us[t + 1]
        for j in range(m):
            un[0, j] = u[0, j]
            un[n - 1, j] = u[n - 1, j]
        for i in range(1, n - 1):
            un[i, 0] = u[i, 0]
            un[i, m - 1] = u[i, m - 1]
            for j in range(1, m - 1):
                un[i, j] = u[i, j] + kappa * (u[i + 1, j] + u[i - 1, j] + u[i, j + 1] + u[i, j - 1]
                                              - 4.0 * u[i, j])
    last = us[steps]
    loss = 0.0
    for i in range(n):
        for j in range(m):
            loss += last[i, j] * last[i, j]
    ub = 2.0 * last
    w = np.zeros((n, m))
    ubn = np.empty((n, m))
    kb = 0.0
    for t in range(steps - 1, -1, -1):
        u = us[t]
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                w[i, j] = ub[i, j]
        # the edges receive from their interior neighbours only (w is zero on the edges)
        for j in range(m):
            ubn[0, j] = ub[0, j] + kappa * w[1, j]
            ubn[n - 1, j] = ub[n - 1, j] + kappa * w[n - 2, j]
        for i in range(1, n - 1):
            ubn[i, 0] = ub[i, 0] + kappa * w[i, 1]
            ubn[i, m - 1] = ub[i, m - 1] + kappa * w[i, m - 2]
            for j in range(1, m - 1):
                ubn[i, j] = ub[i, j] + kappa * (w[i + 1, j] + w[i - 1, j] + w[i, j + 1] + w[i, j - 1]
                                                - 4.0 * w[i, j])
                kb += w[i, j] * (u[i + 1, j] + u[i - 1, j] + u[i, j + 1] + u[i, j - 1] - 4.0 * u[i, j])
        ub, ubn = ubn, ub
    return loss, ub, kb


# --------------------------------------------------------------------------
# JAX, PyTorch, autograd
# --------------------------------------------------------------------------

def heat_jax(u0, kappa, steps):
    """``heat`` in jax.numpy: ``.at[1:-1].set`` in ``lax.fori_loop`` (``steps`` static)."""
    import jax.numpy as jnp
    from jax import lax

    def step(_, u):
        return u.at[1:-1].set(u[1:-1] + kappa * (u[2:] - 2.0 * u[1:-1] + u[:-2]))

    u = lax.fori_loop(0, steps, step, u0)
    return jnp.sum(u * u)


def heat2d_jax(u0, kappa, steps):
    """``heat2d`` in jax.numpy: ``.at[1:-1, 1:-1].set`` in ``lax.fori_loop`` (``steps`` static)."""
    import jax.numpy as jnp
    from jax import lax

    def step(_, u):
        return u.at[1:-1, 1:-1].set(u[1:-1, 1:-1] + kappa * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:]
                                                             + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1]))

    u = lax.fori_loop(0, steps, step, u0)
    return jnp.sum(u * u)


def heat_torch(u0, kappa, steps):
    """``heat`` on PyTorch tensors, the user function's form (``clone``, slice assignment)."""
    import torch
    u = u0.clone()
    for _ in range(steps):
        u_new = u.clone()
        u_new[1:-1] = u[1:-1] + kappa * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = u_new
    return torch.sum(u * u)


def heat2d_torch(u0, kappa, steps):
    """``heat2d`` on PyTorch tensors, the user function's form."""
    import torch
    u = u0.clone()
    for _ in range(steps):
        u_new = u.clone()
        u_new[1:-1, 1:-1] = u[1:-1, 1:-1] + kappa * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2]
                                                     - 4.0 * u[1:-1, 1:-1])
        u = u_new
    return torch.sum(u * u)


def heat_autograd(u0, kappa, steps):
    """``heat`` in autograd.numpy, the new state concatenated (autograd has no slice assignment)."""
    import autograd.numpy as anp
    u = u0
    for _ in range(steps):
        inner = u[1:-1] + kappa * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = anp.concatenate([u[:1], inner, u[-1:]])
    return anp.sum(u * u)


def heat2d_autograd(u0, kappa, steps):
    """``heat2d`` in autograd.numpy, the new state concatenated row block by column block."""
    import autograd.numpy as anp
    u = u0
    for _ in range(steps):
        inner = u[1:-1, 1:-1] + kappa * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2]
                                         - 4.0 * u[1:-1, 1:-1])
        middle = anp.concatenate([u[1:-1, :1], inner, u[1:-1, -1:]], axis=1)
        u = anp.concatenate([u[:1], middle, u[-1:]], axis=0)
    return anp.sum(u * u)


# --------------------------------------------------------------------------
# data, the workloads
# --------------------------------------------------------------------------

def heat_args(size) -> tuple:
    """(u0, kappa, steps) for ``size = (points, steps)``: a sine period plus a ramp plus noise (fixed seed)."""
    points, steps = size
    rng = np.random.default_rng(4242 + points)
    x = np.linspace(0.0, 1.0, points)
    u0 = np.sin(2.0 * math.pi * x) + 0.5 * x + 0.1 * rng.standard_normal(points)
    return (u0, KAPPA_1D, int(steps))


def heat2d_args(size) -> tuple:
    """(u0, kappa, steps) for ``size = (N, steps)``: sin(pi x) sin(2 pi y) plus noise (fixed seed)."""
    n, steps = size
    rng = np.random.default_rng(4343 + n)
    x = np.linspace(0.0, 1.0, n)
    u0 = np.outer(np.sin(math.pi * x), np.sin(2.0 * math.pi * x)) + 0.1 * rng.standard_normal((n, n))
    return (u0, KAPPA_2D, int(steps))


WORKLOAD = runner.Workload(
    name="stencil",
    title="1-D heat stencil with NumPy slices",
    fn=heat,
    forward=heat_nb,
    wrt=WRT,
    args=heat_args,
    sizes={"full": [(64, 100), (256, 500), (1024, 2000)], "quick": [(256, 500)], "tiny": [(32, 20)]},
    main_size=(256, 500),
    check_sizes=((9, 7),),
    size_label=lambda s: f"points={s[0]:,}, steps={s[1]:,}",
    work=lambda s: float(s[0] * s[1]),
    x_label="points x steps (cell updates)",
    kind="array",
    hand_tape_bytes=lambda s: 8 * s[0] * (s[1] + 1),
    tape_unit=("step", lambda s: s[1]),
    peers=[
        runner.hand_peer(heat_hand, "hand-written Numba adjoint, explicit loops, every state stored"),
        runner.jax_peer(heat_jax, WRT, "JAX jit(value_and_grad), .at[1:-1].set in lax.fori_loop, steps static",
                        static_argnums=(2,)),
        runner.torch_peer(heat_torch, WRT, "PyTorch eager autograd, clone and slice assignment in a Python loop"),
        runner.autograd_peer(heat_autograd, WRT, "HIPS autograd, np.concatenate in a Python loop"),
    ],
    description="""
Explicit steps of the 1-D heat equation with fixed ends, written with NumPy
slices as a user writes it (`u_new = u.copy(); u_new[1:-1] = u[1:-1] + kappa *
(u[2:] - 2 u[1:-1] + u[:-2])`), gradient of `sum(u * u)` at the end with respect
to the initial state and `kappa`, beside a hand-written Numba adjoint with
explicit loops, JAX `lax.fori_loop`, and PyTorch and autograd looping over the
steps in Python.
""",
)

WORKLOAD_2D = dataclasses.replace(
    WORKLOAD,
    name="stencil2d",
    title="2-D diffusion stencil with NumPy slices",
    fn=heat2d,
    forward=heat2d_nb,
    wrt_names=None,
    args=heat2d_args,
    sizes={"full": [(32, 100), (64, 100), (128, 200)], "quick": [(64, 100)], "tiny": [(16, 10)]},
    main_size=(64, 100),
    check_sizes=((6, 5),),
    size_label=lambda s: f"N={s[0]:,}, steps={s[1]:,}",
    work=lambda s: float(s[0] * s[0] * s[1]),
    x_label="N^2 x steps (cell updates)",
    hand_tape_bytes=lambda s: 8 * s[0] * s[0] * (s[1] + 1),
    peers=[
        runner.hand_peer(heat2d_hand, "hand-written Numba adjoint, explicit loops, every state stored"),
        runner.jax_peer(heat2d_jax, WRT, "JAX jit(value_and_grad), .at[1:-1, 1:-1].set in lax.fori_loop, "
                        "steps static", static_argnums=(2,)),
        runner.torch_peer(heat2d_torch, WRT, "PyTorch eager autograd, clone and slice assignment in a Python loop"),
        runner.autograd_peer(heat2d_autograd, WRT, "HIPS autograd, np.concatenate in a Python loop"),
    ],
    description="""
Explicit steps of 2-D diffusion on an N x N grid with fixed edges, the
five-point Laplacian written with NumPy slices (`u_new[1:-1, 1:-1] = u[1:-1,
1:-1] + kappa * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4
u[1:-1, 1:-1])`), gradient of `sum(u * u)` with respect to the initial grid
and `kappa`, beside a hand-written Numba adjoint, JAX `lax.fori_loop`, and
PyTorch and autograd looping over the steps in Python.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv, alternatives={"2d": WORKLOAD_2D})


if __name__ == "__main__":
    sys.exit(main())
