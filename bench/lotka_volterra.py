"""Benchmark: gradient of an explicit-Euler Lotka-Volterra integration (a scalar loop).

Run from the project root::

    python -m bench.lotka_volterra            # full run: n in 1e3 .. 1e6
    python -m bench.lotka_volterra --quick    # smoke run

Workload
--------
The 2-species Lotka-Volterra model (prey ``x``, predator ``y``)::

    dx/dt = alpha*x - beta*x*y
    dy/dt = delta*x*y - gamma*y

integrated with ``n`` explicit Euler steps of size ``h = T/n`` over a fixed
horizon ``T = 10`` (every ``n`` solves the same problem).  Parameters are the
classic ``alpha = 2/3, beta = 4/3, delta = 1, gamma = 1`` with ``x0 = y0 = 1``.
Loss ``L = x(T) + y(T)`` (about 0.97); its gradient with respect to
``(alpha, beta, delta, gamma)`` is about ``(-0.665, -0.652, -0.133, -0.927)``,
all components well away from zero, and barely changes with ``n``.

Peers (see ``bench/runner.py`` for the checks, timing and fresh-process measurements)
-----------------------------------------------------------------------------------
* ``numba_fwd``     -- ``numba.njit(lv_loss)``, the value only.
* ``srcgrad``       -- ``srcgrad.value_and_grad(lv_loss, wrt=(0, 1, 2, 3))``.
* ``hand``          -- a hand-written Numba adjoint storing ``x`` and ``y`` before every
  step (16 bytes/step) in arrays allocated per call: the practical speed limit.
* ``hand_prealloc`` -- the same adjoint with its two tape arrays allocated once outside
  and reused (what the per-call allocation costs; glibc may or may not page-fault a
  fresh multi-MB block in on every call, so the allocating one varies run to run).
* ``jax``           -- ``jax.jit(jax.value_and_grad(...))`` of the same loop as
  ``lax.fori_loop`` with ``n`` static (a Python loop would unroll ``n`` steps).
* ``torch``, ``autograd``, ``tangent`` -- the very same Python function ``lv_loss``:
  PyTorch eager on 0-d float64 tensors, HIPS autograd, and tangent-ad's source
  transformation (``tangent.grad``).  They tape every scalar operation in Python, so
  they stop at the size where one call would take longer than the mode's limit, and
  their time beyond is extrapolated (marked so).
"""

from __future__ import annotations

import sys

import numba
import numpy as np

from bench import runner

# --------------------------------------------------------------------------
# the workload
# --------------------------------------------------------------------------

PARAMS = (2.0 / 3.0, 4.0 / 3.0, 1.0, 1.0)  # alpha, beta, delta, gamma
X0 = 1.0
Y0 = 1.0
T_END = 10.0
MAIN_N = 100_000
WRT = (0, 1, 2, 3)
HAND_TAPE_BYTES_PER_STEP = 16  # two float64 per step


def lv_loss(alpha, beta, delta, gamma, x0, y0, h, n):
    """x(T) + y(T) after n explicit Euler steps of Lotka-Volterra (the user function)."""
    x = x0
    y = y0
    for i in range(n):
        dx = alpha * x - beta * x * y
        dy = delta * x * y - gamma * y
        x = x + h * dx
        y = y + h * dy
    return x + y


# Peer 1: the Numba-compiled forward of the very same function.
lv_forward_nb = numba.njit(lv_loss)


# Peer 2: the hand-written adjoint.  The core takes the tape buffers as arguments so that
# the same code serves both the self-contained gradient (allocates its 16 B/step tape on
# every call, like any stateless gradient function) and the buffer-reusing variant.
@numba.njit
def lv_hand_adjoint_prealloc(alpha, beta, delta, gamma, x0, y0, h, n, xs, ys):
    """Hand adjoint using caller-provided tape buffers ``xs``, ``ys`` (length >= n).

    Return (loss, dL/dalpha, dL/dbeta, dL/ddelta, dL/dgamma) of ``lv_loss``.
    """
    x = x0
    y = y0
    for i in range(n):
        xs[i] = x
        ys[i] = y
        dx = alpha * x - beta * x * y
        dy = delta * x * y - gamma * y
        x = x + h * dx
        y = y + h * dy
    loss = x + y
    xb = 1.0
    yb = 1.0
    ab = 0.0
    bb = 0.0
    db = 0.0
    gb = 0.0
    for i in range(n - 1, -1, -1):
        x = xs[i]
        y = ys[i]
        dxb = h * xb  # adjoint of dx
        dyb = h * yb  # adjoint of dy
        xy = x * y
        ab += dxb * x
        bb -= dxb * xy
        db += dyb * xy
        gb -= dyb * y
        # x_new = x + h*dx, y_new = y + h*dy; propagate through dx, dy to x, y
        xb_prev = xb + dxb * (alpha - beta * y) + dyb * delta * y
        yb_prev = yb - dxb * beta * x + dyb * (delta * x - gamma)
        xb = xb_prev
        yb = yb_prev
    return loss, ab, bb, db, gb


@numba.njit
def lv_hand_adjoint(alpha, beta, delta, gamma, x0, y0, h, n):
    """Hand adjoint allocating its tape per call: (loss, dL/dalpha, dL/dbeta, dL/ddelta, dL/dgamma)."""
    xs = np.empty(n)
    ys = np.empty(n)
    return lv_hand_adjoint_prealloc(alpha, beta, delta, gamma, x0, y0, h, n, xs, ys)


def lv_args(n: int) -> tuple:
    """Arguments of ``lv_loss`` for ``n`` steps over the fixed horizon T_END."""
    return (*PARAMS, X0, Y0, T_END / n, int(n))


def lv_hand_prealloc_peer():
    """The hand adjoint with caller-owned tape buffers, grown when a larger n comes."""
    bufs = {"xs": np.empty(0), "ys": np.empty(0)}

    def call(*args):
        n = args[7]
        if bufs["xs"].shape[0] < n:
            bufs["xs"] = np.empty(n)
            bufs["ys"] = np.empty(n)
        return lv_hand_adjoint_prealloc(*args, bufs["xs"], bufs["ys"])
    return call


def lv_loss_jax(alpha, beta, delta, gamma, x0, y0, h, n):
    """The same Euler loop as ``lax.fori_loop`` (n static)."""
    from jax import lax

    def step(i, carry):
        x, y = carry
        dx = alpha * x - beta * x * y
        dy = delta * x * y - gamma * y
        return x + h * dx, y + h * dy

    x, y = lax.fori_loop(0, n, step, (x0, y0))
    return x + y


WORKLOAD = runner.Workload(
    name="lotka_volterra",
    title="Lotka-Volterra, explicit Euler (scalar loop)",
    fn=lv_loss,
    wrt=WRT,
    args=lambda n: lv_args(n),
    sizes={"full": [10**3, 10**4, 10**5, 10**6], "quick": [10**3, 10**5], "tiny": [100]},
    main_size=MAIN_N,
    x_label="n (Euler steps, T = 10 fixed)",
    kind="scalar_loop",
    rtol_peers=1e-10,
    hand_tape_bytes=lambda n: HAND_TAPE_BYTES_PER_STEP * n,
    peers=[
        runner.hand_peer(lv_hand_adjoint, "hand-written Numba adjoint, 16 B/step tape allocated per call"),
        runner.Peer("hand_prealloc", "the same adjoint, tape arrays allocated once and reused", "hand",
                    make=lv_hand_prealloc_peer, result=lambda out: (float(out[0]), tuple(np.asarray(out[1:]))),
                    ),
        runner.jax_peer(lv_loss_jax, WRT, "JAX jit(value_and_grad) of the loop as lax.fori_loop, n static",
                        static_argnums=(7,)),
        runner.torch_peer(lv_loss, WRT, "PyTorch eager autograd of the same Python function (0-d tensors)"),
        runner.autograd_peer(lv_loss, WRT, "HIPS autograd of the same Python function"),
        runner.tangent_peer(lv_loss, WRT, "tangent-ad (source transformation) of the same Python function"),
    ],
    description="""
Gradient of `x(T) + y(T)` after `n` explicit Euler steps of a 2-species
Lotka-Volterra model (T = 10, h = T/n) with respect to its 4 parameters. The
user function is a plain Python `for` loop over floats; PyTorch, autograd and
tangent run that same function. The hand-written Numba adjoint stores `x` and
`y` per step (16 bytes per step), the practical speed limit.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
