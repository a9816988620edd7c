"""Benchmark: GradBench's ``ode`` eval, fourth-order Runge-Kutta of a chain ODE.

Run from the project root::

    python -m bench.ode            # full run
    python -m bench.ode --quick    # smoke run

Workload (GradBench ``evals/ode``, from cmpad's ``an_ode``)
-----------------------------------------------------------
::

    y_0' = x_0,   y_i' = x_i y_{i-1}  (i > 0),   y(0) = 0

integrated to ``t = 2`` with ``s`` classic Runge-Kutta steps (GradBench's
reference implementation: ``k1 = f(y)``, ``k2 = f(y + h k1 / 2)``,
``k3 = f(y + h k2 / 2)``, ``k4 = f(y + h k3)``, ``y += h (k1 + 2 k2 + 2 k3 + k4) / 6``);
the gradient is that of the last component ``y_{n-1}(2)`` with respect to ``x``
(``x ~ U(0, 1)^n``).

Sizes.  Each Runge-Kutta step moves information at most four places down the
chain, so ``y_{n-1}`` is exactly zero, and so is its gradient, unless
``4 s >= n - 1``; and ``y_{n-1}(2)`` is about ``prod(x) 2^n / n!``, which underflows
past ``n`` of about 150.  GradBench's default sizes (n = 1,000 to 100,000 with
s = 1 to 100) are all on the zero side; here ``n = 32`` and the number of steps
``s`` runs from 100 to 100,000 (``y_{n-1}(2)`` is about 5e-42 and every gradient
component, about ``y_{n-1}(2) / x_i``, is a nonzero normal float).

Peers: Numba forward, srcgrad (the loops of the reference, writing into work
arrays), a hand-written Numba adjoint (stores ``y`` at every step:
``8 n`` bytes per step), JAX ``jit(value_and_grad)`` with ``lax.fori_loop`` over
the steps (vectorised right-hand side), PyTorch and autograd with a Python loop
over the steps (vectorised right-hand side), tangent-ad on the loops of the
user function.
"""

from __future__ import annotations

import sys

import numba
import numpy as np

from bench import runner

N = 32
TF = 2.0


def ode_last(x, s):
    """The user function: y_{n-1}(2) by s Runge-Kutta steps, as loops over work arrays."""
    n = x.shape[0]
    h = 2.0 / s
    y = np.zeros(n)
    k1 = np.zeros(n)
    k2 = np.zeros(n)
    k3 = np.zeros(n)
    k4 = np.zeros(n)
    yt = np.zeros(n)
    for step in range(s):
        k1[0] = x[0]
        for i in range(1, n):
            k1[i] = x[i] * y[i - 1]
        for i in range(n):
            yt[i] = y[i] + h * k1[i] / 2.0
        k2[0] = x[0]
        for i in range(1, n):
            k2[i] = x[i] * yt[i - 1]
        for i in range(n):
            yt[i] = y[i] + h * k2[i] / 2.0
        k3[0] = x[0]
        for i in range(1, n):
            k3[i] = x[i] * yt[i - 1]
        for i in range(n):
            yt[i] = y[i] + h * k3[i]
        k4[0] = x[0]
        for i in range(1, n):
            k4[i] = x[i] * yt[i - 1]
        for i in range(n):
            y[i] = y[i] + h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) / 6.0
    return y[n - 1]


def ode_solution(x, s):
    """y(2) by s Runge-Kutta steps (GradBench's ``primal``): the same loops, returning all of y."""
    n = x.shape[0]
    h = 2.0 / s
    y = np.zeros(n)
    k1 = np.zeros(n)
    k2 = np.zeros(n)
    k3 = np.zeros(n)
    k4 = np.zeros(n)
    yt = np.zeros(n)
    for step in range(s):
        k1[0] = x[0]
        for i in range(1, n):
            k1[i] = x[i] * y[i - 1]
        for i in range(n):
            yt[i] = y[i] + h * k1[i] / 2.0
        k2[0] = x[0]
        for i in range(1, n):
            k2[i] = x[i] * yt[i - 1]
        for i in range(n):
            yt[i] = y[i] + h * k2[i] / 2.0
        k3[0] = x[0]
        for i in range(1, n):
            k3[i] = x[i] * yt[i - 1]
        for i in range(n):
            yt[i] = y[i] + h * k3[i]
        k4[0] = x[0]
        for i in range(1, n):
            k4[i] = x[i] * yt[i - 1]
        for i in range(n):
            y[i] = y[i] + h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) / 6.0
    return y


@numba.njit
def _rhs(x, v, out):
    out[0] = x[0]
    for i in range(1, x.shape[0]):
        out[i] = x[i] * v[i - 1]


@numba.njit
def _rhs_adjoint(x, v, out_b, x_b, v_b):
    """Adjoint of out = rhs(x, v): accumulate into x_b, set v_b."""
    n = x.shape[0]
    x_b[0] += out_b[0]
    v_b[n - 1] = 0.0
    for i in range(1, n):
        x_b[i] += out_b[i] * v[i - 1]
        v_b[i - 1] = out_b[i] * x[i]


@numba.njit
def ode_hand(x, s):
    """Hand-written adjoint: (y_{n-1}(2), gradient).  Stores y before every step."""
    n = x.shape[0]
    h = 2.0 / s
    ys = np.empty((s, n))
    y = np.zeros(n)
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    yt1 = np.empty(n)
    yt2 = np.empty(n)
    yt3 = np.empty(n)
    for step in range(s):
        ys[step] = y
        _rhs(x, y, k1)
        for i in range(n):
            yt1[i] = y[i] + h * k1[i] / 2.0
        _rhs(x, yt1, k2)
        for i in range(n):
            yt2[i] = y[i] + h * k2[i] / 2.0
        _rhs(x, yt2, k3)
        for i in range(n):
            yt3[i] = y[i] + h * k3[i]
        _rhs(x, yt3, k4)
        for i in range(n):
            y[i] = y[i] + h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) / 6.0
    value = y[n - 1]
    xb = np.zeros(n)
    yb = np.zeros(n)
    yb[n - 1] = 1.0
    kb = np.empty(n)
    vb = np.empty(n)
    sb = np.empty(n)  # adjoint of the stage being propagated
    for step in range(s - 1, -1, -1):
        y0 = ys[step]
        # recompute this step's stage inputs yt1, yt2, yt3
        _rhs(x, y0, k1)
        for i in range(n):
            yt1[i] = y0[i] + h * k1[i] / 2.0
        _rhs(x, yt1, k2)
        for i in range(n):
            yt2[i] = y0[i] + h * k2[i] / 2.0
        _rhs(x, yt2, k3)
        for i in range(n):
            yt3[i] = y0[i] + h * k3[i]
        # y_new = y0 + h/6 (k1 + 2 k2 + 2 k3 + k4): k1b = k4b = kb, k2b = k3b = 2 kb
        for i in range(n):
            kb[i] = h / 6.0 * yb[i]
        _rhs_adjoint(x, yt3, kb, xb, vb)  # k4 = rhs(yt3); yt3 = y0 + h k3
        for i in range(n):
            yb[i] += vb[i]
            sb[i] = 2.0 * kb[i] + h * vb[i]
        _rhs_adjoint(x, yt2, sb, xb, vb)  # k3 = rhs(yt2); yt2 = y0 + h/2 k2
        for i in range(n):
            yb[i] += vb[i]
            sb[i] = 2.0 * kb[i] + h / 2.0 * vb[i]
        _rhs_adjoint(x, yt1, sb, xb, vb)  # k2 = rhs(yt1); yt1 = y0 + h/2 k1
        for i in range(n):
            yb[i] += vb[i]
            sb[i] = kb[i] + h / 2.0 * vb[i]
        _rhs_adjoint(x, y0, sb, xb, vb)  # k1 = rhs(y0)
        for i in range(n):
            yb[i] += vb[i]
    return value, xb


def _rhs_vec(x, v, lib):
    return lib.concatenate([x[:1], x[1:] * v[:-1]])


def ode_jax(x, s):
    import jax.numpy as jnp
    from jax import lax
    h = TF / s

    def step(_, y):
        k1 = _rhs_vec(x, y, jnp)
        k2 = _rhs_vec(x, y + h * k1 / 2.0, jnp)
        k3 = _rhs_vec(x, y + h * k2 / 2.0, jnp)
        k4 = _rhs_vec(x, y + h * k3, jnp)
        return y + h * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0

    return lax.fori_loop(0, s, step, jnp.zeros_like(x))[-1]


def _ode_python_steps(x, s, lib, zeros):
    h = TF / s
    y = zeros
    for _ in range(s):
        k1 = _rhs_vec(x, y, lib)
        k2 = _rhs_vec(x, y + h * k1 / 2.0, lib)
        k3 = _rhs_vec(x, y + h * k2 / 2.0, lib)
        k4 = _rhs_vec(x, y + h * k3, lib)
        y = y + h * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
    return y[-1]


def ode_torch(x, s):
    import torch
    return _ode_python_steps(x, s, torch, torch.zeros_like(x))


def ode_autograd(x, s):
    import autograd.numpy as anp
    return _ode_python_steps(x, s, anp, np.zeros(x.shape[0]))


def ode_tangent(x, s):
    """The user function's loops as tangent-ad accepts them (``len(x)`` for ``x.shape[0]``).

    (A vectorised step needs ``np.concatenate`` or ``np.append``, which it cannot
    differentiate.)"""
    n = len(x)
    h = 2.0 / s
    y = np.zeros(n)
    k1 = np.zeros(n)
    k2 = np.zeros(n)
    k3 = np.zeros(n)
    k4 = np.zeros(n)
    yt = np.zeros(n)
    for step in range(s):
        k1[0] = x[0]
        for i in range(1, n):
            k1[i] = x[i] * y[i - 1]
        for i in range(n):
            yt[i] = y[i] + h * k1[i] / 2.0
        k2[0] = x[0]
        for i in range(1, n):
            k2[i] = x[i] * yt[i - 1]
        for i in range(n):
            yt[i] = y[i] + h * k2[i] / 2.0
        k3[0] = x[0]
        for i in range(1, n):
            k3[i] = x[i] * yt[i - 1]
        for i in range(n):
            yt[i] = y[i] + h * k3[i]
        k4[0] = x[0]
        for i in range(1, n):
            k4[i] = x[i] * yt[i - 1]
        for i in range(n):
            y[i] = y[i] + h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) / 6.0
    return y[n - 1]


def ode_args(s: int) -> tuple:
    rng = np.random.default_rng(31337)
    return (rng.random(N), int(s))


WORKLOAD = runner.Workload(
    name="ode",
    title="GradBench ode: Runge-Kutta 4 of a chain ODE",
    fn=ode_last,
    args=ode_args,
    sizes={"full": [100, 1000, 10000, 100000], "quick": [100, 10000], "tiny": [10]},
    main_size=10000,
    work=lambda s: float(s * N),
    size_label=lambda s: f"n={N}, s={s:,}",
    x_label=f"s (Runge-Kutta steps) x n (= {N})",
    kind="loop",
    fd_relative=True,
    hand_tape_bytes=lambda s: 8 * N * s,
    peers=[
        runner.hand_peer(ode_hand, "hand-written Numba adjoint (stores y at every step, recomputes the stages)"),
        runner.jax_peer(ode_jax, (0,), "JAX jit(value_and_grad), lax.fori_loop over the steps, s static",
                        static_argnums=(1,)),
        runner.torch_peer(ode_torch, (0,), "PyTorch eager autograd, Python loop over the steps"),
        runner.autograd_peer(ode_autograd, (0,), "HIPS autograd, Python loop over the steps"),
        runner.tangent_peer(ode_tangent, (0,), "tangent-ad, the same loops over work arrays (its vectorised "
                            "form needs np.concatenate, which tangent cannot differentiate)"),
    ],
    description="""
GradBench's `ode` eval (cmpad's `an_ode`): `y_0' = x_0`, `y_i' = x_i y_{i-1}`,
`y(0) = 0`, `s` classic Runge-Kutta steps to `t = 2`, gradient of `y_{n-1}(2)`
with respect to `x ~ U(0, 1)^n`. Each step moves information at most four
places down the chain, so the gradient is identically zero unless
`4 s >= n - 1`, and `y_{n-1}(2)` (about `prod(x) 2^n / n!`) underflows past `n`
of about 150: GradBench's default sizes (n from 1,000, s up to 100) give an
all-zero gradient. Here `n = 32` and `s` grows. srcgrad differentiates the
reference's loops over work arrays (`k1[i] = x[i] * y[i - 1]`, ...), and so does tangent; JAX,
PyTorch and autograd step a vectorised right-hand side.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
