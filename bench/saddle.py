"""Benchmark: GradBench's ``saddle`` eval, an argmin over an argmax found by gradient ascent.

Run from the project root::

    python -m bench.saddle            # full run: dimensions 2 (GradBench's), 10, 100
    python -m bench.saddle --quick    # smoke run: GradBench's dimension only

Workload (GradBench ``evals/saddle``, Siskind and Pearlmutter's example)
---------------------------------------------------------------------
For ``f(x, y) = |x|^2 - |y|^2`` (GradBench: ``x, y`` in R^2, ``f = (x1^2 + x2^2) -
(y1^2 + y2^2)``) the eval computes the saddle point ``min_x max_y f(x, y)``, both by
GradBench's gradient descent (``bench.nested.argmin``) from the input ``start``:

1. ``x* = argmin_x F(x)`` with ``F(x) = max_y f(x, y)``, the inner maximum found by the
   same descent on ``-f`` from ``start``, driven by the gradient of ``f`` in ``y``;
2. ``y* = argmax_y f(x*, y)``, once more from ``start``.

The output is ``x*`` and ``y*`` concatenated; from ``start = (1, 1)`` every
component is ``8.246324826140356e-06`` (GradBench's golden output).

The user function is ``F``: its loop is the whole inner ascent (a ``while`` whose
trip count depends on the data, about 170 trips), which calls
``grad_f_y = srcgrad.grad(saddle_f, wrt=1)``, made at module level; the outer
gradient (in ``x``) differentiates through the loop and through that inner
gradient, which srcgrad computes by forward mode (one tangent pass per
coordinate of ``y``).  The ascent's path does not depend on ``x`` (the mixed
second derivatives of ``f`` are zero), so ``dF/dx = 2 x`` exactly: every peer's
gradient is checked against it, besides the runner's finite differences.  The
size is the dimension of ``x`` and ``y``: GradBench's 2, then 10 and 100 (``start``
all ones, ``x`` drawn in ``[0.5, 1.5]``).

Peers
-----
* ``numba_fwd`` -- the same ascent with the analytic gradient ``-2 y``, ``numba.njit``.
* ``srcgrad``   -- ``srcgrad.value_and_grad(max_f)``; reported as unable to run while srcgrad
  cannot call a gradient inside a differentiated function.
* ``hand``      -- a hand-written Numba adjoint: the ascent, then ``df/dx = 2 x`` at its end
  (the ascent itself has a zero adjoint, see above).
* ``jax``       -- ``jax.jit`` of ``jax.jacfwd`` (forward mode in ``x``) of a ``lax.while_loop``
  ascent whose body calls ``jax.grad`` of ``f`` in ``y``: GradBench's ``fr``.  JAX has no
  reverse mode through ``while_loop``.
* ``jax_rr``    -- reverse over reverse: ``jax.value_and_grad`` of the ascent as a masked
  ``lax.scan``, its static length the trip count the Numba forward counts before the
  call (not timed); a NaN if the ascent had not stopped within it.
* ``torch``, ``autograd`` -- the ascent in Python: ``torch.autograd.grad(...,
  create_graph=True)`` inside, ``backward()`` outside; autograd's ``grad`` inside
  ``value_and_grad``.
* ``tangent``   -- ``tangent.grad`` of the ascent calling ``tangent.grad`` of ``f``.
"""

from __future__ import annotations

import math
import sys

import numba
import numpy as np

from bench import common, nested, runner

GRADBENCH_START = (1.0, 1.0)  # the eval's input
GOLDEN = [8.246324826140356e-06] * 4  # GradBench's expected output (evals/saddle)
GD_TOL = nested.GD_TOL
GD_ETA0 = nested.GD_ETA0
GD_WIDEN = nested.GD_WIDEN


# --------------------------------------------------------------------------
# the user functions (srcgrad's peer)
# --------------------------------------------------------------------------

def saddle_f(x, y):
    """GradBench's function: ``|x|^2 - |y|^2``."""
    return np.dot(x, x) - np.dot(y, y)


try:  # the inner derivative, made once; a broken srcgrad leaves the other peers running
    import srcgrad
    grad_f_y = srcgrad.grad(saddle_f, wrt=1)
    SRCGRAD_IMPORT_ERROR = None
except Exception as _exc:  # noqa: BLE001
    grad_f_y = None
    SRCGRAD_IMPORT_ERROR = common.describe_exception(_exc)


def max_f(x, start):
    """The user function: ``max_y f(x, y)``, by GradBench's gradient descent on ``-f`` from ``start``."""
    y = start.copy()
    fy = -saddle_f(x, y)
    gy = -grad_f_y(x, y)
    eta = GD_ETA0
    accepted = 0
    while math.sqrt(np.dot(gy, gy)) > GD_TOL:
        if accepted == GD_WIDEN:
            eta = 2.0 * eta
            accepted = 0
        else:
            y_new = y - eta * gy
            d = y - y_new
            if math.sqrt(np.dot(d, d)) <= GD_TOL:
                break
            f_new = -saddle_f(x, y_new)
            if f_new < fy:
                y = y_new
                fy = f_new
                gy = -grad_f_y(x, y)
                accepted += 1
            else:
                eta = 0.5 * eta
                accepted = 0
    return saddle_f(x, y)


# --------------------------------------------------------------------------
# Numba: the forward (analytic gradient) and the hand-written adjoint
# --------------------------------------------------------------------------

@numba.njit(cache=True)
def ascent(x, start):
    """The inner ascent with the analytic gradient of ``-f`` in ``y`` (``2 y``): ``(y*, trips)``,
    ``trips`` counting every pass of the loop, the one that stops it included."""
    y = start.copy()
    fy = -(np.dot(x, x) - np.dot(y, y))
    gy = 2.0 * y
    eta = GD_ETA0
    accepted = 0
    trips = 0
    while True:
        trips += 1
        if math.sqrt(np.dot(gy, gy)) <= GD_TOL:
            break
        if accepted == GD_WIDEN:
            eta = 2.0 * eta
            accepted = 0
        else:
            y_new = y - eta * gy
            d = y - y_new
            if math.sqrt(np.dot(d, d)) <= GD_TOL:
                break
            f_new = -(np.dot(x, x) - np.dot(y_new, y_new))
            if f_new < fy:
                y = y_new
                fy = f_new
                gy = 2.0 * y
                accepted += 1
            else:
                eta = 0.5 * eta
                accepted = 0
    return y, trips


def max_f_forward(x, start):
    """The user function with the analytic inner gradient (Numba compiles it: the value alone)."""
    y, _ = ascent(x, start)
    return np.dot(x, x) - np.dot(y, y)


saddle_forward = numba.njit(max_f_forward)


@numba.njit
def max_f_hand(x, start):
    """Hand-written adjoint: ``(F(x), dF/dx)``.  The ascent's steps ``y - eta * 2 y`` and its
    decisions do not involve ``x``, so the adjoint of the loop is zero and the gradient is
    ``df/dx`` at its end, ``2 x``."""
    y, _ = ascent(x, start)
    return np.dot(x, x) - np.dot(y, y), 2.0 * x


def saddle_args(n: int) -> tuple:
    if n == len(GRADBENCH_START):
        x = np.array(GRADBENCH_START)
    else:
        x = np.random.default_rng(4242 + n).uniform(0.5, 1.5, n)
    return x, np.ones(n)


# --------------------------------------------------------------------------
# srcgrad
# --------------------------------------------------------------------------

def _srcgrad_make():
    if grad_f_y is None:
        raise runner.Unavailable(f"cannot run: srcgrad did not import ({SRCGRAD_IMPORT_ERROR})")
    start = np.array(GRADBENCH_START)
    return nested.srcgrad_value_and_grad(max_f, (start, start))


SRCGRAD_PEER = runner.Peer(
    "srcgrad", "srcgrad.value_and_grad of the user function, whose ascent loop calls srcgrad.grad(f, wrt=1) "
    "(reverse over forward)", "srcgrad", make=_srcgrad_make,
    result=lambda out: (float(out[0]), (np.asarray(out[1], dtype=float),)))


# --------------------------------------------------------------------------
# JAX: the ascent as a state machine, in a while_loop (forward outside) or a masked scan (reverse)
# --------------------------------------------------------------------------

def _jax_parts():
    jax = runner.load("jax")
    jnp = jax.numpy
    lax = jax.lax

    def f(x, y):
        return jnp.dot(x, x) - jnp.dot(y, y)

    grad_y = jax.grad(f, argnums=1)  # the inner derivative, reverse mode

    def first(x, start):
        return (start, -f(x, start), -grad_y(x, start), jnp.asarray(GD_ETA0), jnp.asarray(0), jnp.asarray(True))

    def trip(x, s):
        """One pass of the descent on -f: stop, widen the step, or try one."""
        y, fy, gy, eta, accepted, go = s
        stop = jnp.asarray(False)

        def try_step(_):
            y_new = y - eta * gy
            d = y - y_new

            def compare(_):
                f_new = -f(x, y_new)
                return lax.cond(f_new < fy,
                                lambda _: (y_new, f_new, -grad_y(x, y_new), eta, accepted + 1, go),
                                lambda _: (y, fy, gy, 0.5 * eta, jnp.zeros_like(accepted), go), None)

            return lax.cond(jnp.sqrt(d @ d) <= GD_TOL, lambda _: (y, fy, gy, eta, accepted, stop), compare, None)

        def widen_or_try(_):
            return lax.cond(accepted == GD_WIDEN,
                            lambda _: (y, fy, gy, 2.0 * eta, jnp.zeros_like(accepted), go), try_step, None)

        return lax.cond(jnp.sqrt(gy @ gy) <= GD_TOL, lambda _: (y, fy, gy, eta, accepted, stop), widen_or_try, None)

    return jax, jnp, f, first, trip


def _jax_make():
    jax, jnp, f, first, trip = _jax_parts()

    def max_f_jax(x, start):
        s = jax.lax.while_loop(lambda s: s[5], lambda s: trip(x, s), first(x, start))
        value = f(x, s[0])
        return value, value

    def value_and_grad(x, start):  # forward mode in x: jacfwd, the value as its aux output
        g, value = jax.jacfwd(max_f_jax, has_aux=True)(x, start)
        return value, g

    return common.blocking(jax.jit(value_and_grad))


def _jax_rr_make():
    jax, jnp, f, first, trip = _jax_parts()

    def max_f_scan(x, start, length):
        def body(s, _):
            return jax.lax.cond(s[5], lambda s: trip(x, s), lambda s: s, s), None

        s, _ = jax.lax.scan(body, first(x, start), None, length=length)
        return jnp.where(s[5], jnp.nan, f(x, s[0]))  # NaN if the ascent had not stopped in time

    return common.blocking(jax.jit(jax.value_and_grad(max_f_scan), static_argnums=(2,)))


def _jax_convert(args):
    jnp = runner.load("jax").numpy
    return tuple(jnp.asarray(a) for a in args)


def _jax_rr_convert(args):
    x, start = args
    return _jax_convert(args) + (int(ascent(x, start)[1]),)


def _jax_result(out):
    v, g = out
    return float(v), (np.asarray(g, dtype=float),)


# --------------------------------------------------------------------------
# PyTorch, autograd, tangent: the ascent in Python, each with its own inner gradient
# --------------------------------------------------------------------------

def _ascent_python(x, start, f, grad_y, sqrt):
    """The user function's ascent for the tools that run Python (``grad_y(x, y)``: the tool's
    gradient of ``f`` in ``y``)."""
    y = start
    fy = -f(x, y)
    gy = -grad_y(x, y)
    eta = GD_ETA0
    accepted = 0
    while sqrt((gy * gy).sum()) > GD_TOL:
        if accepted == GD_WIDEN:
            eta = 2.0 * eta
            accepted = 0
        else:
            y_new = y - eta * gy
            d = y - y_new
            if sqrt((d * d).sum()) <= GD_TOL:
                break
            f_new = -f(x, y_new)
            if f_new < fy:
                y = y_new
                fy = f_new
                gy = -grad_y(x, y)
                accepted += 1
            else:
                eta = 0.5 * eta
                accepted = 0
    return f(x, y)


def _f_sum(x, y):
    return (x * x).sum() - (y * y).sum()


def _torch_grad_y(x, y):
    torch = runner.load("torch")
    if not y.requires_grad:  # the start point
        y = y.detach().requires_grad_()
    (g,) = torch.autograd.grad(_f_sum(x, y), y, create_graph=True)
    return g


def max_f_torch(x, start):
    torch = runner.load("torch")
    return _ascent_python(x, start, _f_sum, _torch_grad_y, torch.sqrt)


_AUTOGRAD_GRAD_Y: list = []


def max_f_autograd(x, start):
    import autograd.numpy as anp
    if not _AUTOGRAD_GRAD_Y:
        _AUTOGRAD_GRAD_Y.append(runner.load("autograd").grad(_f_sum, 1))
    return _ascent_python(x, start, _f_sum, _AUTOGRAD_GRAD_Y[0], anp.sqrt)


def _tangent_f(x, y):
    return np.sum(x * x) - np.sum(y * y)


_tangent_grad_f_y = None  # tangent.grad(_tangent_f, wrt=(1,)), made by _tangent_make


def _tangent_max_f(x, start):
    y = start
    fy = -_tangent_f(x, y)
    gy = -_tangent_grad_f_y(x, y)
    eta = GD_ETA0
    accepted = 0
    while np.sqrt(np.sum(gy * gy)) > GD_TOL:
        if accepted == GD_WIDEN:
            eta = 2.0 * eta
            accepted = 0
        else:
            y_new = y - eta * gy
            d = y - y_new
            if np.sqrt(np.sum(d * d)) <= GD_TOL:
                break
            f_new = -_tangent_f(x, y_new)
            if f_new < fy:
                y = y_new
                fy = f_new
                gy = -_tangent_grad_f_y(x, y)
                accepted += 1
            else:
                eta = 0.5 * eta
                accepted = 0
    return _tangent_f(x, y)


def _tangent_make():
    start = np.array(GRADBENCH_START)
    return nested.tangent_nested(_tangent_max_f, _tangent_f, (1,), "_tangent_grad_f_y", (start, start),
                                 ("f", "f", "the ascent"))


# --------------------------------------------------------------------------
# the closed form every peer is checked against, and the eval
# --------------------------------------------------------------------------

def check_peer(size, args, value, grads, extras) -> float:
    """The ascent does not depend on x, so dF/dx = 2 x (up to rounding)."""
    x, _ = args
    return common.check_close_scaled(f"n={size}: dF/dx vs 2 x", grads[0], 2.0 * x, 1e-12, 1e-6)


def solve(vg_outer, grad_inner, start) -> tuple[np.ndarray, int]:
    """GradBench's saddle output from ``start``: ``x* = argmin F`` with ``vg_outer(x) -> (F(x),
    dF/dx)``, then ``y* = argmax_y f(x*, y)`` with ``grad_inner(x, y)``, the gradient of ``f`` in
    ``y`` (not nested).  Returns ``(concatenate(x*, y*), value-and-gradient calls)``."""
    start = np.asarray(start, dtype=float)
    x, calls = nested.argmin(vg_outer, start)

    def descend(y):  # the argmax as a descent on -f
        return -float(saddle_f(x, y)), -np.asarray(grad_inner(x, y), dtype=float)

    y, calls_y = nested.argmin(descend, start)
    return np.concatenate([x, y]), calls + calls_y


def _inner_gradient(peer):
    """The peer's own gradient of f in y, for the eval's second (not nested) argmax."""
    fam = peer.family
    if fam == "srcgrad":
        return grad_f_y
    if fam == "jax":
        jax = runner.load("jax")
        g = jax.jit(jax.grad(lambda x, y: jax.numpy.dot(x, x) - jax.numpy.dot(y, y), argnums=1))
        return lambda x, y: np.asarray(g(x, y))
    if fam == "torch":
        torch = runner.load("torch")
        return lambda x, y: _torch_grad_y(torch.from_numpy(x), torch.from_numpy(y)).detach().numpy()
    if fam == "autograd":
        return runner.load("autograd").grad(_f_sum, 1)
    return lambda x, y: -2.0 * y  # the hand-written adjoint's


def _solve_with_peer(peer, fn):
    def vg(x):
        value, grads, *_ = peer.result(fn(*peer.convert((x, start))))
        return value, np.asarray(grads[0], dtype=float)

    start = np.array(GRADBENCH_START)
    return solve(vg, _inner_gradient(peer), start)


def eval_output(states, mode, say) -> dict:
    return nested.eval_outputs(
        states, mode, say, solve=_solve_with_peer, golden=GOLDEN, input_label=f"start = {GRADBENCH_START}",
        description="""
GradBench's output: the saddle point `(x*, y*)`, `x*` by GradBench's gradient
descent on `F` (each trial point one value-and-gradient call of the peer), then
`y*` by the same descent on `-f(x*, .)` with the peer's own (not nested)
gradient in `y`; the outputs must agree with each other and pass GradBench's
own check against its golden output, `8.246324826140356e-06` four times.""")


WORKLOAD = runner.Workload(
    name="saddle",
    title="GradBench saddle: nested AD through a gradient ascent",
    fn=max_f,
    forward=saddle_forward,
    args=saddle_args,
    sizes={"full": [2, 10, 100], "quick": [2], "tiny": [2]},
    main_size=2,
    size_label=lambda n: f"n={n}" + (" (GradBench)" if n == 2 else ""),
    work=lambda n: float(n),
    x_label="dimension of x and y",
    kind="loop",
    fd_step=1e-2,  # F is |x|^2 minus a constant: exact for 4th-order differences at any step
    srcgrad=SRCGRAD_PEER,
    peer_check=check_peer,
    hand_tape_bytes=lambda n: 0,
    eval_output=eval_output,
    peers=[
        runner.hand_peer(max_f_hand, "hand-written Numba adjoint: the ascent, then df/dx = 2 x at its end (the "
                         "ascent does not depend on x)"),
        runner.Peer("jax", "JAX jit: jacfwd in x (forward) of a lax.while_loop ascent whose body calls jax.grad "
                    "of f in y (GradBench's fr)", "jax", make=_jax_make, convert=_jax_convert, result=_jax_result),
        runner.Peer("jax_rr", "JAX jit: value_and_grad (reverse) of the ascent as a masked lax.scan calling "
                    "jax.grad; its static length is the trip count of the Numba forward, counted before the call",
                    "jax", make=_jax_rr_make, convert=_jax_rr_convert, result=_jax_result),
        runner.torch_peer(max_f_torch, (0,), "PyTorch eager: the ascent in Python, inner torch.autograd.grad with "
                          "create_graph=True, then backward()"),
        runner.autograd_peer(max_f_autograd, (0,), "HIPS autograd: the ascent in Python, autograd.grad of f in y "
                             "inside value_and_grad"),
        runner.Peer("tangent", "tangent-ad: tangent.grad of the ascent, which calls tangent.grad of f",
                    "tangent", make=_tangent_make,
                    result=lambda out: (float(out[-1]), (np.asarray(out[0], dtype=float),))),
    ],
    description="""
GradBench's `saddle` eval (Siskind and Pearlmutter): the saddle point
`min_x max_y f(x, y)` of `f = |x|^2 - |y|^2`, both by gradient descent. The user
function is `F(x) = max_y f(x, y)`: the inner ascent is a `while` loop of about
170 trips that calls `srcgrad.grad(f, wrt=1)` (forward mode inside), and the
gradient in `x` differentiates through it (reverse mode outside). The ascent's
path does not depend on `x`, so `dF/dx = 2x`, which every peer must give. The
size is the dimension of `x` and `y`: GradBench's 2, then 10 and 100. JAX cannot
reverse-differentiate its `while_loop`: `jax` is `jacfwd` over it (GradBench's
`fr`), `jax_rr` reverse over reverse through a `scan` of a length fixed before
the call, with a mask.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
