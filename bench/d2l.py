"""Benchmark: the control-flow example of d2l's automatic-differentiation section.

Run from the project root::

    python -m bench.d2l            # full run
    python -m bench.d2l --quick    # smoke run

Workload
--------
::

    b = a * 2
    while abs(b) < 1000:
        b = b * 2
    c = b if b > 0 else 100 * b

``c`` is piecewise linear in ``a``, so ``dc/da = c / a``.  The size is the number of
trips of the ``while`` loop: ``a = 750 / 2**trips`` makes it run exactly ``trips``
times (10, 100, 1000; 1000 trips need ``a`` about 7e-299, still a normal float).
Time per call is mostly the fixed cost of calling each tool from Python.

Peers: Numba forward, srcgrad, a hand-written Numba adjoint (count the doublings),
PyTorch, autograd and tangent-ad on the same Python function, and JAX three ways:
``jax.value_and_grad`` without ``jit`` (Python control flow on concrete values: it
works), ``jax.jit`` of it (fails: the loop condition needs a concrete value), and
``jax.jit`` of a ``lax.while_loop`` version (fails: JAX has no reverse mode through
``while_loop``).  The two failures are reported with JAX's own error.
"""

from __future__ import annotations

import sys

import numba

from bench import runner


def control_flow(a):
    """The user function (d2l, section "Automatic Differentiation", control flow)."""
    b = a * 2
    while abs(b) < 1000:
        b = b * 2
    c = b if b > 0 else 100 * b
    return c


@numba.njit
def control_flow_hand(a):
    """Hand-written adjoint: (c, dc/da)."""
    b = a * 2
    g = 2.0
    while abs(b) < 1000:
        b = b * 2
        g = g * 2
    if b > 0:
        return b, g
    return 100 * b, 100 * g


def control_flow_lax(a):
    from jax import lax
    b = lax.while_loop(lambda b: abs(b) < 1000, lambda b: b * 2, a * 2)
    return lax.select(b > 0, b, 100 * b)


def d2l_args(trips: int) -> tuple:
    return (750.0 / 2.0 ** int(trips),)


WORKLOAD = runner.Workload(
    name="d2l",
    title="d2l control flow (while loop, branch)",
    fn=control_flow,
    args=d2l_args,
    size_label=lambda t: f"{t} trips",
    x_label="trips of the while loop",
    sizes={"full": [10, 100, 1000], "quick": [10, 1000], "tiny": [10]},
    main_size=1000,
    kind="scalar_loop",
    rtol_value=1e-14,
    fd_step=1e-3,
    fd_relative=True,  # a spans 1e-299 .. 1: steps relative to |a| (c is linear on each side)
    hand_tape_bytes=lambda t: 0,
    peers=[
        runner.hand_peer(control_flow_hand, "hand-written Numba adjoint (counts the doublings, no tape)"),
        runner.jax_peer(control_flow, (0,), "JAX value_and_grad without jit (Python control flow, eager)",
                        jit=False),
        runner.jax_peer(control_flow, (0,), "JAX jit(value_and_grad) of the same Python function",
                        name="jax_jit"),
        runner.jax_peer(control_flow_lax, (0,), "JAX jit(value_and_grad) of a lax.while_loop version",
                        name="jax_while"),
        runner.torch_peer(control_flow, (0,), "PyTorch eager autograd, the same Python function"),
        runner.autograd_peer(control_flow, (0,), "HIPS autograd, the same Python function"),
        runner.tangent_peer(control_flow, (0,), "tangent-ad, the same Python function"),
    ],
    description="""
The control-flow example of d2l's autograd section: `b = 2a`, double `b` while
`|b| < 1000`, `c = b if b > 0 else 100 b`; `dc/da = c/a`. The size is the
number of trips of the `while` loop (`a = 750 / 2^trips`). Each call is
microseconds of work, so this measures what calling a gradient costs. JAX's
`jit` cannot trace a loop whose condition depends on a traced value, and JAX
has no reverse mode through `lax.while_loop`; without `jit`, JAX runs the
Python loop eagerly.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
