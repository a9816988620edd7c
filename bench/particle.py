"""Benchmark: GradBench's ``particle`` eval, a charged particle steered by nested derivatives.

Run from the project root::

    python -m bench.particle            # full run: Euler steps of 0.1 (GradBench's), 0.01, 0.001
    python -m bench.particle --quick    # smoke run: GradBench's step only

Workload (GradBench ``evals/particle``, Siskind and Pearlmutter's example)
-----------------------------------------------------------------------
Two fixed unit charges at ``(10, 10 - w)`` and ``(10, 0)`` make the potential

    p(x; w) = 1 / |x - (10, 10 - w)| + 1 / |x - (10, 0)|

and a unit particle starts at ``x = (0, 8)`` with velocity ``(0.75, 0)``.  Naive
Euler steps of ``dt`` (GradBench: 0.1) move it, the force being ``-grad_x p``::

    x_new = x + dt * xdot
    while x_new[1] > 0:                  # until the next step would cross y = 0
        xdot = xdot - dt * grad_x p(x; w)
        x = x_new
        x_new = x + dt * xdot

then the crossing is found by linear interpolation (``t_f = -x[1] / xdot[1]``) and
the user function returns the squared miss distance ``(x[0] + t_f xdot[0])^2``.
The eval's output is the ``w`` that minimises it, by GradBench's gradient descent
from ``w = 0`` (``bench.nested.argmin``): ``0.2071918746...``.

The force is a derivative (in ``x``, a 2-vector) taken inside the function whose
derivative (in ``w``) the descent needs: nested AD.  srcgrad's user function calls
``grad_potential = srcgrad.grad(potential, wrt=0)``, made at module level; srcgrad
computes that inner gradient by forward mode (a tangent pass per coordinate of
``x``) and differentiates through it by reverse mode.  The size is the time step:
0.1 is GradBench's (351-360 steps, depending on ``w``), 0.01 and 0.001 the same
trajectory with 10 and 100 times as many steps.  Gradients are checked at a ``w``
near 0.1, midway between two values where the number of steps changes (the value
is continuous there but has a kink).

Peers
-----
* ``numba_fwd`` -- the same loop with the analytic ``grad_x p``, ``numba.njit``: the value.
* ``srcgrad``   -- ``srcgrad.value_and_grad(naive_euler)``: reverse over forward.  Where
  srcgrad cannot call a gradient inside a differentiated function it reports why.
* ``srcgrad_scalar`` -- the same loop with the position and velocity as four floats, the
  inner gradient ``srcgrad.grad(potential_xy, wrt=(0, 1))`` unpacked as a pair: what the
  2-element arrays cost srcgrad (``naive_euler_scalar``; the GradBench tool's form).
* ``hand``      -- a hand-written Numba adjoint: the analytic force, its Jacobian (the
  Hessian of ``p``) and its derivative in ``w``, the positions taped (16 bytes a step).
* ``jax``       -- ``jax.jit`` of ``jax.jvp`` (forward mode in ``w``) of a ``lax.while_loop``
  whose body calls ``jax.grad`` of the potential: GradBench's ``fr``.  JAX has no reverse
  mode through ``while_loop``, and the trip count depends on ``w``.
* ``jax_rr``    -- reverse over reverse, ``jax.grad`` of a ``lax.scan`` whose body calls
  ``jax.grad``: the scan's length is static, the number of steps the Numba forward counts
  before the call (not timed), with a mask that freezes the state after the crossing (and
  a NaN if the loop did not stop in time).
* ``torch``, ``autograd`` -- the loop in Python: PyTorch's inner ``torch.autograd.grad(...,
  create_graph=True)`` and ``backward()``; HIPS autograd's ``grad`` inside ``value_and_grad``.
* ``tangent``   -- ``tangent.grad`` of the loop calling ``tangent.grad`` of the potential.
"""

from __future__ import annotations

import math
import sys

import numba
import numpy as np

from bench import common, nested, runner

GRADBENCH_W0 = 0.0  # the eval's input
GRADBENCH_DT = 0.1
GOLDEN = 0.2071918746486116  # GradBench's expected output (evals/particle)
# the starting position and velocity, and the charges' x (GradBench's constants)
X0, Y0 = 0.0, 8.0
VX0, VY0 = 0.75, 0.0
CHARGE_X = 10.0
CHARGE_Y = 10.0  # the first charge is at (10, 10 - w), the second at (10, 0)

# Where the gradients are checked, per time step: a w near 0.1 (on the descent's path from 0 to
# 0.207) midway between two values where the number of steps changes.
CHECK_W = {0.1: 0.1, 0.01: 0.1027, 0.001: 0.1002}
HAND_TAPE_BYTES_PER_STEP = 16  # the position before every step


# --------------------------------------------------------------------------
# the user functions (srcgrad's peer)
# --------------------------------------------------------------------------

def potential(x, w):
    """GradBench's electric potential of the two fixed charges at the particle's position ``x``."""
    a = x[0] - CHARGE_X
    b = x[1] - (CHARGE_Y - w)
    c = x[1]
    return 1.0 / math.sqrt(a * a + b * b) + 1.0 / math.sqrt(a * a + c * c)


def potential_xy(x0, x1, w):
    """The same potential with the position as two floats (``naive_euler_scalar``'s)."""
    a = x0 - CHARGE_X
    b = x1 - (CHARGE_Y - w)
    return 1.0 / math.sqrt(a * a + b * b) + 1.0 / math.sqrt(a * a + x1 * x1)


try:  # the inner derivatives, made once; a broken srcgrad leaves the other peers running
    import srcgrad
    grad_potential = srcgrad.grad(potential, wrt=0)
    grad_potential_xy = srcgrad.grad(potential_xy, wrt=(0, 1))
    SRCGRAD_IMPORT_ERROR = None
except Exception as _exc:  # noqa: BLE001
    grad_potential = grad_potential_xy = None
    SRCGRAD_IMPORT_ERROR = common.describe_exception(_exc)


def naive_euler(w, dt):
    """The user function: the squared miss distance at the x-axis of the Euler trajectory."""
    x = np.zeros(2)
    x[0] = X0
    x[1] = Y0
    xdot = np.zeros(2)
    xdot[0] = VX0
    xdot[1] = VY0
    x_new = x + dt * xdot
    while x_new[1] > 0.0:
        grad_p = grad_potential(x, w)  # the force on the particle is -grad_p
        xdot = xdot - dt * grad_p
        x = x_new
        x_new = x + dt * xdot
    t_f = -x[1] / xdot[1]
    x_f = x[0] + t_f * xdot[0]
    return x_f * x_f


def naive_euler_scalar(w, dt):
    """The same user function with the position and velocity as floats, the inner gradient a pair."""
    x0 = X0
    x1 = Y0
    v0 = VX0
    v1 = VY0
    while x1 + dt * v1 > 0.0:
        g0, g1 = grad_potential_xy(x0, x1, w)
        x0 = x0 + dt * v0
        x1 = x1 + dt * v1
        v0 = v0 - dt * g0
        v1 = v1 - dt * g1
    t_f = -x1 / v1
    x_f = x0 + t_f * v0
    return x_f * x_f


# --------------------------------------------------------------------------
# Numba: the forward (analytic force) and the hand-written adjoint
# --------------------------------------------------------------------------

@numba.njit(cache=True)
def potential_gradient(x, w):
    """grad_x p, analytically: -(x - c) / |x - c|^3 summed over the two charges."""
    a = x[0] - CHARGE_X
    b = x[1] - (CHARGE_Y - w)
    c = x[1]
    r1 = math.sqrt(a * a + b * b)
    r2 = math.sqrt(a * a + c * c)
    q1 = 1.0 / (r1 * r1 * r1)
    q2 = 1.0 / (r2 * r2 * r2)
    g = np.empty(2)
    g[0] = -(a * q1 + a * q2)
    g[1] = -(b * q1 + c * q2)
    return g


def naive_euler_forward(w, dt):
    """The user function with the analytic force (Numba compiles it: the value alone)."""
    x = np.zeros(2)
    x[0] = X0
    x[1] = Y0
    xdot = np.zeros(2)
    xdot[0] = VX0
    xdot[1] = VY0
    x_new = x + dt * xdot
    while x_new[1] > 0.0:
        grad_p = potential_gradient(x, w)
        xdot = xdot - dt * grad_p
        x = x_new
        x_new = x + dt * xdot
    t_f = -x[1] / xdot[1]
    x_f = x[0] + t_f * xdot[0]
    return x_f * x_f


particle_forward = numba.njit(naive_euler_forward)


@numba.njit(cache=True)
def euler_steps(w, dt):
    """How many Euler steps the trajectory takes before the next one would cross the x-axis."""
    x = np.array([X0, Y0])
    xdot = np.array([VX0, VY0])
    n = 0
    while x[1] + dt * xdot[1] > 0.0:
        grad_p = potential_gradient(x, w)
        x = x + dt * xdot
        xdot = xdot - dt * grad_p
        n += 1
    return n


@numba.njit
def naive_euler_hand(w, dt):
    """Hand-written adjoint: (value, d value / d w).

    Forward: ``v += dt (a q1 + a q2, b q1 + c q2)`` (minus the gradient of p, with
    ``q = 1 / r^3``), ``x += dt v``; the positions are taped.  Reverse, per step: the
    force's Jacobian in x is ``-H`` (H the Hessian of p: ``sum -I/r^3 + 3 d d^T / r^5``)
    and its derivative in w is ``-H1[:, 1]`` (the first charge moves by -1 in y), so
    ``xb += -dt H vb``, ``wb += -dt H1[:, 1] . vb``, ``vb += dt xb_next``."""
    cap = 1024
    tape = np.empty((cap, 2))
    x0, x1, v0, v1 = X0, Y0, VX0, VY0
    n = 0
    while x1 + dt * v1 > 0.0:
        if n == cap:
            bigger = np.empty((2 * cap, 2))
            bigger[:cap] = tape
            tape = bigger
            cap *= 2
        tape[n, 0] = x0
        tape[n, 1] = x1
        a = x0 - CHARGE_X
        b = x1 - (CHARGE_Y - w)
        c = x1
        r1 = math.sqrt(a * a + b * b)
        r2 = math.sqrt(a * a + c * c)
        q1 = 1.0 / (r1 * r1 * r1)
        q2 = 1.0 / (r2 * r2 * r2)
        v0n = v0 + dt * (a * q1 + a * q2)
        v1n = v1 + dt * (b * q1 + c * q2)
        x0 = x0 + dt * v0
        x1 = x1 + dt * v1
        v0 = v0n
        v1 = v1n
        n += 1
    t_f = -x1 / v1
    xf = x0 + t_f * v0
    value = xf * xf
    # reverse: the miss distance
    xfb = 2.0 * xf
    x0b = xfb
    v0b = xfb * t_f
    tb = xfb * v0
    x1b = -tb / v1
    v1b = tb * x1 / (v1 * v1)
    wb = 0.0
    for k in range(n - 1, -1, -1):
        p0 = tape[k, 0]
        p1 = tape[k, 1]
        a = p0 - CHARGE_X
        b = p1 - (CHARGE_Y - w)
        c = p1
        r1s = a * a + b * b
        r2s = a * a + c * c
        r1 = math.sqrt(r1s)
        r2 = math.sqrt(r2s)
        q1 = 1.0 / (r1s * r1)
        q2 = 1.0 / (r2s * r2)
        s1 = 3.0 * q1 / r1s
        s2 = 3.0 * q2 / r2s
        # Hessian of p at the taped position
        h00 = -q1 + s1 * a * a - q2 + s2 * a * a
        h01 = s1 * a * b + s2 * a * c
        h11 = -q1 + s1 * b * b - q2 + s2 * c * c
        # v_next = v - dt grad p(x, w), x_next = x + dt v
        wb -= dt * (s1 * a * b * v0b + (-q1 + s1 * b * b) * v1b)
        nx0b = x0b - dt * (h00 * v0b + h01 * v1b)
        nx1b = x1b - dt * (h01 * v0b + h11 * v1b)
        v0b = v0b + dt * x0b
        v1b = v1b + dt * x1b
        x0b = nx0b
        x1b = nx1b
    return value, wb


def particle_args(dt) -> tuple:
    w = CHECK_W[dt]
    if not euler_steps(w - 1e-5, dt) == euler_steps(w, dt) == euler_steps(w + 1e-5, dt):
        raise ValueError(f"w = {w} is too close to a change in the number of steps at dt = {dt}")
    return w, float(dt)


# --------------------------------------------------------------------------
# srcgrad: reported as unable to run while it cannot call a gradient inside a gradient
# --------------------------------------------------------------------------

def _srcgrad_make(fn=naive_euler):
    if grad_potential is None:
        raise runner.Unavailable(f"cannot run: srcgrad did not import ({SRCGRAD_IMPORT_ERROR})")
    return nested.srcgrad_value_and_grad(fn, (GRADBENCH_W0, GRADBENCH_DT))


def _srcgrad_result(out):
    return float(out[0]), (np.asarray(float(out[1])),)


SRCGRAD_PEER = runner.Peer(
    "srcgrad", "srcgrad.value_and_grad of the user function, whose loop calls srcgrad.grad(potential) "
    "(reverse over forward)", "srcgrad", make=_srcgrad_make, result=_srcgrad_result)
SRCGRAD_SCALAR_PEER = runner.Peer(
    "srcgrad_scalar", "the same with the position and velocity as floats (`naive_euler_scalar`): the inner "
    "gradient is srcgrad.grad(potential_xy, wrt=(0, 1)), a pair", "srcgrad",
    make=lambda: _srcgrad_make(naive_euler_scalar), result=_srcgrad_result)


# --------------------------------------------------------------------------
# JAX: forward over reverse through a while_loop, reverse over reverse through a masked scan
# --------------------------------------------------------------------------

def _jax_parts():
    jax = runner.load("jax")
    jnp = jax.numpy

    def potential_jax(x, w):
        a = x[0] - CHARGE_X
        b = x[1] - (CHARGE_Y - w)
        c = x[1]
        return 1.0 / jnp.sqrt(a * a + b * b) + 1.0 / jnp.sqrt(a * a + c * c)

    grad_p = jax.grad(potential_jax)  # the inner derivative, reverse mode

    def step(x, xdot, w, dt):
        return x + dt * xdot, xdot - dt * grad_p(x, w)

    def miss(x, xdot):
        t_f = -x[1] / xdot[1]
        x_f = x[0] + t_f * xdot[0]
        return x_f * x_f

    def start():
        return jnp.array([X0, Y0]), jnp.array([VX0, VY0])

    return jax, jnp, step, miss, start


def _jax_make():
    jax, jnp, step, miss, start = _jax_parts()

    def euler(w, dt):
        def cond(s):
            x, xdot = s
            return x[1] + dt * xdot[1] > 0.0
        x, xdot = jax.lax.while_loop(cond, lambda s: step(s[0], s[1], w, dt), start())
        return miss(x, xdot)

    def value_and_derivative(w, dt):  # forward mode in w: one tangent through the while_loop
        return jax.jvp(lambda w: euler(w, dt), (w,), (jnp.ones_like(w),))

    return common.blocking(jax.jit(value_and_derivative))


def _jax_rr_make():
    jax, jnp, step, miss, start = _jax_parts()

    def euler(w, dt, length):
        def body(s, _):
            x, xdot, go = s
            x_new, xdot_new = step(x, xdot, w, dt)
            go = go & (x_new[1] > 0.0)
            return (jnp.where(go, x_new, x), jnp.where(go, xdot_new, xdot), go), None

        x, xdot = start()
        (x, xdot, go), _ = jax.lax.scan(body, (x, xdot, jnp.array(True)), None, length=length)
        # NaN if the trajectory had not reached the axis within `length` steps
        return jnp.where(go & (x[1] + dt * xdot[1] > 0.0), jnp.nan, miss(x, xdot))

    return common.blocking(jax.jit(jax.value_and_grad(euler), static_argnums=(2,)))


def _jax_convert(args):
    jnp = runner.load("jax").numpy
    w, dt = args
    return jnp.asarray(w), dt


def _jax_rr_convert(args):
    w, dt = args
    return _jax_convert(args) + (int(euler_steps(w, dt)),)


def _jax_result(out):
    v, d = out
    return float(v), (np.asarray(float(d)),)


# --------------------------------------------------------------------------
# PyTorch, autograd, tangent: the loop in Python, each with its own inner gradient
# --------------------------------------------------------------------------

def _euler_python(w, dt, grad_p, vec):
    """The user function's loop for the tools that run Python: ``grad_p(x, w)`` is the tool's
    inner gradient, ``vec(a, b)`` makes its 2-vector."""
    x = vec(X0, Y0)
    xdot = vec(VX0, VY0)
    x_new = x + dt * xdot
    while x_new[1] > 0.0:
        xdot = xdot - dt * grad_p(x, w)
        x = x_new
        x_new = x + dt * xdot
    t_f = -x[1] / xdot[1]
    x_f = x[0] + t_f * xdot[0]
    return x_f * x_f


def _potential_pow(x, w):
    """The potential with ``** -0.5`` (works on tensors and autograd's boxes alike)."""
    a = x[0] - CHARGE_X
    b = x[1] - (CHARGE_Y - w)
    c = x[1]
    return (a * a + b * b) ** -0.5 + (a * a + c * c) ** -0.5


def _torch_grad_p(x, w):
    torch = runner.load("torch")
    if not x.requires_grad:  # the first positions do not depend on w yet
        x = x.detach().requires_grad_()
    (g,) = torch.autograd.grad(_potential_pow(x, w), x, create_graph=True)
    return g


def _torch_vec(a, b):
    torch = runner.load("torch")
    return torch.tensor([a, b], dtype=torch.float64)


def naive_euler_torch(w, dt):
    return _euler_python(w, dt, _torch_grad_p, _torch_vec)


def _autograd_grad_p(x, w):
    return _AUTOGRAD_GRAD_P[0](x, w)


_AUTOGRAD_GRAD_P: list = []


def naive_euler_autograd(w, dt):
    import autograd.numpy as anp
    if not _AUTOGRAD_GRAD_P:
        _AUTOGRAD_GRAD_P.append(runner.load("autograd").grad(_potential_pow, 0))
    return _euler_python(w, dt, _autograd_grad_p, lambda a, b: anp.array([a, b]))


def _tangent_potential(x, w):
    a = x[0] - CHARGE_X
    b = x[1] - (CHARGE_Y - w)
    c = x[1]
    return 1.0 / np.sqrt(a * a + b * b) + 1.0 / np.sqrt(a * a + c * c)


_tangent_grad_potential = None  # tangent.grad(_tangent_potential, wrt=(0,)), made by _tangent_make


def _tangent_euler(w, dt):
    x = np.array([X0, Y0])
    xdot = np.array([VX0, VY0])
    x_new = x + dt * xdot
    while x_new[1] > 0.0:
        xdot = xdot - dt * _tangent_grad_potential(x, w)
        x = x_new
        x_new = x + dt * xdot
    t_f = -x[1] / xdot[1]
    x_f = x[0] + t_f * xdot[0]
    return x_f * x_f


def _tangent_make():
    return nested.tangent_nested(_tangent_euler, _tangent_potential, (0,), "_tangent_grad_potential",
                                 (GRADBENCH_W0, GRADBENCH_DT), ("potential", "the potential", "the loop"))


# --------------------------------------------------------------------------
# the eval: GradBench's argmin over w, with every peer's gradient
# --------------------------------------------------------------------------

def solve(vg, w0: float = GRADBENCH_W0) -> tuple[float, int]:
    """GradBench's particle output: the descent over ``w`` from ``w0``; ``vg(w)`` returns the value
    and its derivative in ``w``.  Returns ``(w, value-and-gradient calls)``."""
    def vg_vector(wv):
        value, d = vg(float(wv[0]))
        return value, np.array([float(d)])

    w, calls = nested.argmin(vg_vector, [w0])
    return float(w[0]), calls


def _solve_with_peer(peer, fn):
    def vg(w):
        value, grads, *_ = peer.result(fn(*peer.convert((w, GRADBENCH_DT))))
        return value, float(np.asarray(grads[0]))
    w, calls = solve(vg)
    return np.array([w]), calls


def eval_output(states, mode, say) -> dict:
    return nested.eval_outputs(
        states, mode, say, solve=_solve_with_peer, golden=GOLDEN, input_label=f"w = {GRADBENCH_W0}, dt = "
        f"{GRADBENCH_DT}",
        skip={"jax_rr": "not solved: its scan length is static, so every change in the number of steps along the "
                        "descent (four of them) would compile it again"},
        description="""
GradBench's output: the `w` where the particle hits the origin, by GradBench's
gradient descent from `w = 0` (`bench.nested.argmin`), each trial point one
value-and-gradient call of the peer; the outputs must agree with each other and
pass GradBench's own check against its golden output, `0.2071918746486116`.""")


def _size_label(dt) -> str:
    return f"dt={dt:g} ({euler_steps(CHECK_W[dt], dt):,} steps)"


WORKLOAD = runner.Workload(
    name="particle",
    title="GradBench particle: nested AD through an Euler trajectory",
    fn=naive_euler,
    forward=particle_forward,
    args=particle_args,
    sizes={"full": [0.1, 0.01, 0.001], "quick": [0.1], "tiny": [0.1]},
    main_size=0.1,
    size_label=_size_label,
    work=lambda dt: float(euler_steps(CHECK_W[dt], dt)),
    x_label="Euler steps",
    kind="scalar_loop",
    rtol_value=1e-10,  # the peers' inner gradients round differently from the analytic force
    fd_step=1e-6,  # the kinks where the number of steps changes are 1e-4 apart at dt = 0.001
    srcgrad=SRCGRAD_PEER,
    hand_tape_bytes=lambda dt: HAND_TAPE_BYTES_PER_STEP * int(euler_steps(CHECK_W[dt], dt)),
    eval_output=eval_output,
    peers=[
        SRCGRAD_SCALAR_PEER,
        runner.hand_peer(naive_euler_hand, "hand-written Numba adjoint: analytic force, its Jacobian (the Hessian "
                         "of p) and its derivative in w; positions taped"),
        runner.Peer("jax", "JAX jit: jvp in w (forward) of a lax.while_loop whose body calls jax.grad of the "
                    "potential (GradBench's fr)", "jax", make=_jax_make, convert=_jax_convert, result=_jax_result),
        runner.Peer("jax_rr", "JAX jit: value_and_grad (reverse) of a masked lax.scan whose body calls jax.grad; "
                    "its static length is the step count of the Numba forward, counted before the call",
                    "jax", make=_jax_rr_make, convert=_jax_rr_convert,
                    result=lambda out: (float(out[0]), (np.asarray(float(out[1])),))),
        runner.torch_peer(naive_euler_torch, (0,), "PyTorch eager: the loop in Python, inner torch.autograd.grad "
                          "with create_graph=True, then backward()"),
        runner.autograd_peer(naive_euler_autograd, (0,), "HIPS autograd: the loop in Python, autograd.grad of the "
                             "potential inside value_and_grad"),
        runner.Peer("tangent", "tangent-ad: tangent.grad of the loop, which calls tangent.grad of the potential",
                    "tangent", make=_tangent_make,
                    result=lambda out: (float(out[-1]), (np.asarray(float(out[0])),))),
    ],
    description="""
GradBench's `particle` eval (Siskind and Pearlmutter): a charged particle
starts at `(0, 8)` with velocity `(0.75, 0)`; naive Euler steps of `dt` move it
under the force `-grad_x p(x; w)` of two charges at `(10, 10 - w)` and
`(10, 0)` until its next step would cross the x-axis; the user function is the
squared distance from the origin where it crosses (linear interpolation), and
the gradient is in `w`. The force is a derivative inside the differentiated
function: srcgrad's loop calls `srcgrad.grad(potential, wrt=0)` on the position,
a 2-element array (forward mode inside, reverse mode outside); `srcgrad_scalar`
is the same loop with the position as two floats and the inner gradient a pair.
The Numba forward is the array loop with the analytic force. The size is `dt`:
GradBench's 0.1, then 10 and 100 times as many steps. JAX cannot
reverse-differentiate its `while_loop`: `jax` is forward mode in `w` over it
(GradBench's `fr`), `jax_rr` reverse over reverse through a `scan` of a length
fixed before the call, with a mask.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
