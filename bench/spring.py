"""Benchmark: gradient of a spring-mass chain falling onto the ground (explicit Euler, NumPy as users write it).

Run from the project root::

    python -m bench.spring            # full run: 50, 200, 1000 steps over the same 1 s
    python -m bench.spring --quick    # smoke run: 200 steps

Workload
--------
A chain of ``n = 8`` unit masses in the plane, neighbours joined by springs of
stiffness ``k`` and rest length ``rest = 0.5``, under gravity (9.81), above a ground
``y = 0`` that pushes back on a mass below it with a stiff penalty spring (1000)::

    for t in range(steps):
        force = np.zeros((n, 2))
        force[:, 1] -= 9.81
        for i in range(n - 1):                    # springs between neighbours
            d = pos[i + 1] - pos[i]
            length = np.sqrt(np.sum(d * d))
            f = k * (length - rest) * d / length
            force[i] += f
            force[i + 1] -= f
        for i in range(n):                        # ground contact
            if pos[i, 1] < 0.0:
                force[i, 1] += -1000.0 * pos[i, 1]
        vel = vel + dt * force                    # explicit (symplectic) Euler
        pos = pos + dt * vel
    loss = sum(pos[:, 1]) + 0.5 * sum(vel * vel)  # final heights plus kinetic energy

Positions and velocities are (n, 2) float64 arrays; the gradient is with respect to
``(pos0, vel0, k)`` (33 numbers).  The chain starts slanted, its lowest mass 0.15 above
the ground, every mass falling at about 1 (fixed seed); ``k = 40``.  The horizon is
fixed, ``T = 1`` s, and ``dt = T / steps``: every size integrates the same motion,
during which every mass hits the ground at least once and bounces (about one mass-step
in seven is in contact).  The loss is continuous but has a kink wherever, at some step,
a mass sits exactly on the ground; at the chosen point the nearest such kink lies about
1e-3 away along a random unit direction at 200 steps, 1e-5 at 1000 (a finer step passes
closer to the ground), so the finite differences take a step of 1e-6 and redraw a
direction whose stencil would straddle one (:func:`contact_kink_margin`, a
tangent-linear run of the chain).

Peers (``bench/runner.py``: checks, timing, extrapolation, fresh processes)
-------------------------------------------------------------------------
* ``numba_fwd`` -- ``numba.njit(spring_mass)``, the user function itself (value only).
* ``srcgrad``   -- ``srcgrad.value_and_grad(spring_mass, wrt=(0, 1, 2))``.
* ``hand``      -- a hand-written Numba adjoint with scalar loops: the forward tapes the
  positions before every step (``16 n`` bytes a step; the velocities are not needed
  backwards, the force depending on the positions alone), the reverse loop runs the
  springs' and the contacts' adjoints.  The practical speed limit and the reference.
* ``jax``       -- ``jax.jit(jax.value_and_grad(...))`` of the same step vectorised over the
  springs (``.at[].add`` for the forces, ``jnp.where`` for the contact) inside
  ``lax.fori_loop``, ``steps`` static.
* ``torch``, ``autograd`` -- the same vectorised step in a Python loop over the steps
  (``torch.cat`` / ``np.concatenate`` to scatter the spring forces, ``where`` for the
  contact): PyTorch eager on float64 tensors, HIPS autograd.  They tape every step in
  Python, so they stop at the size where one call would exceed the mode's limit, and
  their time beyond is extrapolated (marked so).
"""

from __future__ import annotations

import sys

import numba
import numpy as np

from bench import runner

N_MASSES = 8
K = 40.0
REST = 0.5
T_END = 1.0
STIFF = 1000.0  # the ground's penalty stiffness (a literal in the user function)
GRAVITY = 9.81
WRT = (0, 1, 2)


# --------------------------------------------------------------------------
# the workload
# --------------------------------------------------------------------------

def spring_mass(pos0, vel0, k, rest, dt, steps):
    """Final heights plus kinetic energy of a spring-mass chain after ``steps`` Euler steps (the user function)."""
    pos = pos0.copy()
    vel = vel0.copy()
    n = pos.shape[0]
    for t in range(steps):
        force = np.zeros((n, 2))
        force[:, 1] -= 9.81
        for i in range(n - 1):
            d = pos[i + 1] - pos[i]
            length = np.sqrt(np.sum(d * d))
            f = k * (length - rest) * d / length
            force[i] += f
            force[i + 1] -= f
        for i in range(n):
            if pos[i, 1] < 0.0:
                force[i, 1] += -1000.0 * pos[i, 1]
        vel = vel + dt * force
        pos = pos + dt * vel
    return np.sum(pos[:, 1]) + 0.5 * np.sum(vel * vel)


spring_mass_nb = numba.njit(spring_mass)


# --------------------------------------------------------------------------
# the hand-written adjoint
# --------------------------------------------------------------------------

@numba.njit
def spring_hand(pos0, vel0, k, rest, dt, steps):
    """Hand adjoint: (loss, dL/dpos0, dL/dvel0, dL/dk).  Tapes the positions before every step.

    The forward does the user function's arithmetic in the same order (the same value to the
    last bit); the reverse step, with ``pb``, ``vb`` the adjoints of the positions and
    velocities after the step::

        vb += dt * pb                      # pos' = pos + dt * vel'
        fb  = dt * vb                      # vel' = vel + dt * force(pos, k)
        pb += force_pos(pos, k)^T fb;  kb += force_k(pos, k) . fb
    """
    n = pos0.shape[0]
    ps = np.empty((steps, n, 2))
    p = pos0.copy()
    v = vel0.copy()
    F = np.empty((n, 2))
    for t in range(steps):
        for i in range(n):
            ps[t, i, 0] = p[i, 0]
            ps[t, i, 1] = p[i, 1]
            F[i, 0] = 0.0
            F[i, 1] = -GRAVITY
        for i in range(n - 1):
            d0 = p[i + 1, 0] - p[i, 0]
            d1 = p[i + 1, 1] - p[i, 1]
            length = np.sqrt(d0 * d0 + d1 * d1)
            s = k * (length - rest)
            f0 = s * d0 / length
            f1 = s * d1 / length
            F[i, 0] += f0
            F[i, 1] += f1
            F[i + 1, 0] -= f0
            F[i + 1, 1] -= f1
        for i in range(n):
            if p[i, 1] < 0.0:
                F[i, 1] += -STIFF * p[i, 1]
        for i in range(n):
            v[i, 0] = v[i, 0] + dt * F[i, 0]
            v[i, 1] = v[i, 1] + dt * F[i, 1]
            p[i, 0] = p[i, 0] + dt * v[i, 0]
            p[i, 1] = p[i, 1] + dt * v[i, 1]
    heights = 0.0
    for i in range(n):
        heights += p[i, 1]
    kinetic = 0.0
    for i in range(n):
        kinetic += v[i, 0] * v[i, 0]
        kinetic += v[i, 1] * v[i, 1]
    loss = heights + 0.5 * kinetic

    pb = np.zeros((n, 2))
    vb = np.empty((n, 2))
    for i in range(n):
        pb[i, 1] = 1.0
        vb[i, 0] = v[i, 0]
        vb[i, 1] = v[i, 1]
    kb = 0.0
    for t in range(steps - 1, -1, -1):
        for i in range(n):
            vb[i, 0] += dt * pb[i, 0]
            vb[i, 1] += dt * pb[i, 1]
        for i in range(n):
            if ps[t, i, 1] < 0.0:
                pb[i, 1] -= STIFF * dt * vb[i, 1]
        for i in range(n - 1):
            d0 = ps[t, i + 1, 0] - ps[t, i, 0]
            d1 = ps[t, i + 1, 1] - ps[t, i, 1]
            length = np.sqrt(d0 * d0 + d1 * d1)
            # f = k (1 - rest / length) d, pushed on mass i and pulled from mass i + 1
            fb0 = dt * (vb[i, 0] - vb[i + 1, 0])
            fb1 = dt * (vb[i, 1] - vb[i + 1, 1])
            ratio = 1.0 - rest / length
            dfb = d0 * fb0 + d1 * fb1
            kb += ratio * dfb
            c = k * rest * dfb / (length * length * length)
            db0 = k * ratio * fb0 + c * d0
            db1 = k * ratio * fb1 + c * d1
            pb[i + 1, 0] += db0
            pb[i + 1, 1] += db1
            pb[i, 0] -= db0
            pb[i, 1] -= db1
    return loss, pb, vb, kb


# --------------------------------------------------------------------------
# the kinks of the finite differences
# --------------------------------------------------------------------------

@numba.njit
def _contact_margin(pos0, vel0, k, rest, dt, steps, dpos, dvel, dk):
    """Tangent-linear run along (dpos, dvel, dk): the smallest |y| / |dy/ds| over every contact test."""
    n = pos0.shape[0]
    p = pos0.copy()
    v = vel0.copy()
    dp = dpos.copy()
    dv = dvel.copy()
    F = np.empty((n, 2))
    dF = np.empty((n, 2))
    margin = np.inf
    for t in range(steps):
        for i in range(n):
            F[i, 0] = 0.0
            F[i, 1] = -GRAVITY
            dF[i, 0] = 0.0
            dF[i, 1] = 0.0
        for i in range(n - 1):
            d0 = p[i + 1, 0] - p[i, 0]
            d1 = p[i + 1, 1] - p[i, 1]
            e0 = dp[i + 1, 0] - dp[i, 0]
            e1 = dp[i + 1, 1] - dp[i, 1]
            length = np.sqrt(d0 * d0 + d1 * d1)
            dlength = (d0 * e0 + d1 * e1) / length
            s = k * (1.0 - rest / length)
            ds = dk * (1.0 - rest / length) + k * rest * dlength / (length * length)
            g0 = ds * d0 + s * e0
            g1 = ds * d1 + s * e1
            F[i, 0] += s * d0
            F[i, 1] += s * d1
            F[i + 1, 0] -= s * d0
            F[i + 1, 1] -= s * d1
            dF[i, 0] += g0
            dF[i, 1] += g1
            dF[i + 1, 0] -= g0
            dF[i + 1, 1] -= g1
        for i in range(n):
            if dp[i, 1] != 0.0:
                margin = min(margin, abs(p[i, 1]) / abs(dp[i, 1]))
            if p[i, 1] < 0.0:
                F[i, 1] += -STIFF * p[i, 1]
                dF[i, 1] += -STIFF * dp[i, 1]
        for i in range(n):
            for j in range(2):
                v[i, j] += dt * F[i, j]
                dv[i, j] += dt * dF[i, j]
                p[i, j] += dt * v[i, j]
                dp[i, j] += dt * dv[i, j]
    return margin


def contact_kink_margin(args, direction) -> float:
    """How far along ``direction`` (in the wrt arguments) the nearest contact switch lies, to first order:
    the smallest |height| / |its derivative along the direction| over every mass and step."""
    pos0, vel0, k, rest, dt, steps = args
    return float(_contact_margin(pos0, vel0, float(k), rest, dt, steps, np.asarray(direction[0], dtype=float),
                                 np.asarray(direction[1], dtype=float), float(direction[2])))


# --------------------------------------------------------------------------
# JAX, PyTorch and autograd: the step vectorised over the springs
# --------------------------------------------------------------------------

def spring_mass_jax(pos0, vel0, k, rest, dt, steps):
    """The same chain in jax.numpy, ``lax.fori_loop`` over the steps (``steps`` static)."""
    import jax.numpy as jnp
    from jax import lax
    ey = jnp.array([0.0, 1.0])

    def step(_, state):
        pos, vel = state
        d = pos[1:] - pos[:-1]
        length = jnp.sqrt(jnp.sum(d * d, axis=1))
        f = (k * (length - rest) / length)[:, None] * d
        force = jnp.zeros_like(pos).at[:-1].add(f).at[1:].add(-f)
        y = pos[:, 1]
        fy = jnp.where(y < 0.0, -STIFF * y, 0.0) - GRAVITY
        force = force + fy[:, None] * ey
        vel = vel + dt * force
        pos = pos + dt * vel
        return pos, vel

    pos, vel = lax.fori_loop(0, steps, step, (pos0, vel0))
    return jnp.sum(pos[:, 1]) + 0.5 * jnp.sum(vel * vel)


def spring_mass_torch(pos0, vel0, k, rest, dt, steps):
    """The same chain on PyTorch tensors, a Python loop over the steps."""
    import torch
    pos = pos0
    vel = vel0
    zero = torch.zeros((1, 2), dtype=pos.dtype)
    ey = torch.tensor([0.0, 1.0], dtype=pos.dtype)
    for _ in range(steps):
        d = pos[1:] - pos[:-1]
        length = torch.sqrt(torch.sum(d * d, dim=1))
        f = (k * (length - rest) / length)[:, None] * d
        force = torch.cat([f, zero]) - torch.cat([zero, f])
        y = pos[:, 1]
        fy = torch.where(y < 0.0, -STIFF * y, torch.zeros_like(y)) - GRAVITY
        force = force + fy[:, None] * ey
        vel = vel + dt * force
        pos = pos + dt * vel
    return torch.sum(pos[:, 1]) + 0.5 * torch.sum(vel * vel)


def spring_mass_autograd(pos0, vel0, k, rest, dt, steps):
    """The same chain in autograd.numpy, a Python loop over the steps."""
    import autograd.numpy as anp
    pos = pos0
    vel = vel0
    zero = np.zeros((1, 2))
    ey = np.array([0.0, 1.0])
    for _ in range(steps):
        d = pos[1:] - pos[:-1]
        length = anp.sqrt(anp.sum(d * d, axis=1))
        f = (k * (length - rest) / length)[:, None] * d
        force = anp.concatenate([f, zero]) - anp.concatenate([zero, f])
        y = pos[:, 1]
        fy = anp.where(y < 0.0, -STIFF * y, 0.0) - GRAVITY
        force = force + fy[:, None] * ey
        vel = vel + dt * force
        pos = pos + dt * vel
    return anp.sum(pos[:, 1]) + 0.5 * anp.sum(vel * vel)


# --------------------------------------------------------------------------
# data, the workload
# --------------------------------------------------------------------------

def spring_args(steps: int) -> tuple:
    """(pos0, vel0, k, rest, dt, steps): the slanted chain falling, ``dt = T_END / steps`` (fixed seed)."""
    rng = np.random.default_rng(2718)
    pos0 = np.empty((N_MASSES, 2))
    pos0[:, 0] = REST * np.arange(N_MASSES) + 0.05 * rng.standard_normal(N_MASSES)
    pos0[:, 1] = np.linspace(0.15, 1.2, N_MASSES) + 0.05 * rng.standard_normal(N_MASSES)
    vel0 = 0.3 * rng.standard_normal((N_MASSES, 2))
    vel0[:, 1] -= 1.0
    return (pos0, vel0, K, REST, T_END / steps, int(steps))


WORKLOAD = runner.Workload(
    name="spring",
    title="Spring-mass chain with ground contact, explicit Euler (NumPy)",
    fn=spring_mass,
    forward=spring_mass_nb,
    wrt=WRT,
    args=spring_args,
    sizes={"full": [50, 200, 1000], "quick": [200], "tiny": [20]},
    main_size=200,
    check_sizes=(30,),
    size_label=lambda s: f"steps={s:,}",
    work=lambda s: float(s),
    x_label=f"steps (T = {T_END:g} s fixed, {N_MASSES} masses)",
    kind="array",
    fd_step=1e-6,  # contact kinks lie 1e-5 away along a unit direction at 1000 steps
    fd_margin=contact_kink_margin,
    hand_tape_bytes=lambda s: 16 * N_MASSES * s,
    tape_unit=("step", lambda s: s),
    peers=[
        runner.hand_peer(spring_hand, "hand-written Numba adjoint, scalar loops, positions taped per step"),
        runner.jax_peer(spring_mass_jax, WRT, "JAX jit(value_and_grad), the step vectorised over the springs "
                        "in lax.fori_loop, steps static", static_argnums=(5,)),
        runner.torch_peer(spring_mass_torch, WRT, "PyTorch eager autograd, the vectorised step in a Python loop"),
        runner.autograd_peer(spring_mass_autograd, WRT, "HIPS autograd, the vectorised step in a Python loop"),
    ],
    description="""
A chain of 8 masses joined by springs, falling under gravity onto a ground that
pushes back with a stiff penalty (`if pos[i, 1] < 0.0: force[i, 1] += ...`),
explicit Euler over a fixed 1 s, written in NumPy as a user writes it: (8, 2)
position and velocity arrays, a Python loop over the springs and one over the
contacts in every step. Gradient of the final heights plus kinetic energy with
respect to the initial positions, velocities and the spring stiffness, beside a
hand-written Numba adjoint (positions taped per step), JAX `lax.fori_loop`, and
PyTorch and autograd looping over the steps in Python.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
