"""srcgrad gradients on the NumPy-array corpus, checked against independent oracles.

For every (case, point) of ``corpus_arrays.CASES``:
* the value returned by ``value_and_grad`` equals calling the function directly,
* every gradient has the type, dtype and shape of its argument,
* the arguments are not modified,
* the gradient matches 4th-order central finite differences over every element
  (except programs using ``stop_gradient``, which are checked against a closed form),
* the gradient matches JAX run on the same source with ``np`` -> ``jax.numpy``
  (all programs without in-place writes, and those whose writes do not run at that point).

``VJP_CASES`` check ``srcgrad.vjp`` on vector-valued programs the same way.

The compiled srcgrad objects are built once per case and shared by its points; the
oracle answers are computed once per point. The oracles are themselves validated at the
bottom of this file (FD vs JAX, FD step insensitivity), without srcgrad.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest

import srcgrad

from .support.checks import check_grad_structure, check_points, check_unmodified, copies, describe, value_and_grad
from .support.corpus_arrays import CASES, CLOSED_FORM, FLOAT32_CASES, NOT_FD, NOT_JAX, VJP_CASES
from .support.oracles_np import (
    as_grad_tuple,
    assert_allclose_grads,
    fd_grad_array,
    fd_vjp,
    has_inplace_writes,
    jax_available,
    jax_failure,
    jax_grad,
    jax_vjp,
)

CASES_BY_NAME = {c.name: c for c in CASES}
VJP_BY_NAME = {c.name: (c, cts) for c, cts in VJP_CASES}

# tolerances -----------------------------------------------------------------------------
# Values: NumPy sums pairwise, compiled code may sum left to right; a few ulps of the
# summands, so a relative 1e-10 plus an absolute 1e-12 for results that cancel.
VALUE_RTOL = 1e-10
VALUE_ATOL = 1e-12
# Gradients vs 4th-order FD (h = 1e-4 max(1, |x|)). On this corpus FD agrees with JAX to
# <= 2e-11 relative to max(1, |g|) (see test_oracle_fd_matches_jax), so 1e-6 leaves a
# 5-orders margin without hiding real errors. atol is scaled by max(1, max|g|) per entry.
FD_RTOL = 1e-6
FD_ATOL = 1e-8
JAX_RTOL = 1e-9
JAX_ATOL = 1e-12
# float32 programs are compared with float64 oracles: float32 has eps = 1.2e-7 and these
# programs do at most a few dozen roundings per result, so 1e-4 relative (plus 1e-5 times
# the entry's scale) is float32 accuracy, not a loosened test.
F32_RTOL = 1e-4
F32_ATOL = 1e-5
F32_VALUE_RTOL = 1e-5


# shared compiled objects and oracle answers ---------------------------------------------



@functools.cache
def _fd(name: str, i: int) -> tuple:
    case = CASES_BY_NAME[name]
    return fd_grad_array(case.fn, case.points[i], case.wrt)


@functools.cache
def _jax(name: str, i: int) -> tuple | None:
    case = CASES_BY_NAME[name]
    return jax_grad(case.fn, case.points[i], case.wrt)


def _tols(case, rtol, atol):
    return (F32_RTOL, F32_ATOL) if case.name in FLOAT32_CASES else (rtol, atol)


ALL_POINTS = [pytest.param(case, i, id=f"{case.name}-{i}")
              for case in CASES for i in range(len(case.points))]
VJP_POINTS = [pytest.param(case, cts, i, id=f"{case.name}-{i}")
              for case, cts in VJP_CASES for i in range(len(case.points))]


# the corpus itself ------------------------------------------------------------------------

def test_corpus_size():
    assert len(CASES) >= 45
    assert len({c.name for c in CASES}) == len(CASES), "duplicate case names"
    assert len({c.fn for c in CASES}) == len(CASES), "a function is listed twice"
    assert sum(has_inplace_writes(c.fn) for c in CASES) >= 15
    assert FLOAT32_CASES <= set(CASES_BY_NAME)
    assert set(CLOSED_FORM) <= set(CASES_BY_NAME) and NOT_FD <= set(CLOSED_FORM)


@pytest.mark.parametrize("case,i", ALL_POINTS)
def test_points_well_formed(case, i):
    args = case.points[i]
    assert len(args) == len(inspect.signature(case.fn).parameters)
    for a in args:
        if isinstance(a, np.ndarray):
            assert a.size <= 50 and 1 <= a.ndim <= 3
            assert a.dtype == (np.float32 if case.name in FLOAT32_CASES else np.float64) \
                or a.dtype.kind == "i"
    # deterministic and pure: calling twice gives the same value, arguments unchanged
    before = copies(args)
    v1 = case.fn(*args)
    v2 = case.fn(*args)
    check_unmodified(before, args, case.name)
    assert np.ndim(v1) == 0 and v1 == v2


# srcgrad against the oracles ----------------------------------------------------------------

CHECK_POINTS = check_points(CASES)


@pytest.mark.parametrize("case,i,jit", CHECK_POINTS)
def test_value_and_grad(case, i, jit):
    args = case.points[i]
    where = describe(case, args)
    expected_value = case.fn(*copies(args))
    before = copies(args)

    value, grad = value_and_grad(case, jit)(*args)

    check_unmodified(before, args, where)
    assert np.ndim(value) == 0, f"{where}: value {value!r} is not a scalar"
    vr = F32_VALUE_RTOL if case.name in FLOAT32_CASES else VALUE_RTOL
    assert_allclose_grads(value, expected_value, vr, VALUE_ATOL, what=f"{where}: value",
                          scale_atol=False)
    check_grad_structure(case.fn, case.wrt, args, grad, where)

    if case.name in CLOSED_FORM:
        assert_allclose_grads(grad, CLOSED_FORM[case.name](*args), 1e-12, 1e-14,
                              what=f"{where}: gradient vs closed form")
    if case.name not in NOT_FD:
        rtol, atol = _tols(case, FD_RTOL, FD_ATOL)
        assert_allclose_grads(grad, _fd(case.name, i), rtol, atol,
                              what=f"{where}: gradient vs finite differences")
    jg = _jax(case.name, i)
    if jg is not None:
        rtol, atol = _tols(case, JAX_RTOL, JAX_ATOL)
        assert_allclose_grads(grad, jg, rtol, atol, what=f"{where}: gradient vs JAX")


@pytest.mark.parametrize("name", ["prefix_sum_loop", "rnn_steps", "scalar_array_mix",
                                  "float32_matvec", "ema_inplace"])
def test_grad_matches_value_and_grad(name):
    case = CASES_BY_NAME[name]
    g = srcgrad.grad(case.fn, wrt=case.wrt)
    for args in case.points:
        where = describe(case, args)
        _, expected = value_and_grad(case)(*args)
        got = g(*args)
        check_grad_structure(case.fn, case.wrt, args, got, where)
        assert_allclose_grads(got, expected, 1e-13, 1e-15, what=f"{where}: grad()")


JIT_FALSE_NAMES = ["bubble_sort_weighted", "row_normalize", "rnn_store_states", "neg_step_write",
                   "while_norm", "cumsum_axis", "float32_inplace", "tensor3_inplace"]


@pytest.mark.slow
@pytest.mark.parametrize("name", JIT_FALSE_NAMES)
def test_jit_false_matches_jit_true(name):
    """``jit=False`` runs the same generated source as plain Python: same numbers."""
    case = CASES_BY_NAME[name]
    for args in case.points:
        where = describe(case, args)
        v_py, g_py = value_and_grad(case, jit=False)(*args)
        v_nb, g_nb = value_and_grad(case, jit=True)(*args)
        check_grad_structure(case.fn, case.wrt, args, g_py, where)
        rtol = 1e-5 if name in FLOAT32_CASES else 1e-12
        assert_allclose_grads(v_py, v_nb, rtol, 1e-14, what=f"{where}: value jit=False vs jit=True")
        assert_allclose_grads(g_py, g_nb, rtol, 1e-14, what=f"{where}: grad jit=False vs jit=True")


# vjp ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case,cts,i", VJP_POINTS)
def test_vjp(case, cts, i):
    args = case.points[i]
    ct = cts[i]
    where = describe(case, args) + " cotangent=" + np.array2string(ct, precision=17, separator=", ")
    expected_value = case.fn(*copies(args))

    value, pullback = srcgrad.vjp(case.fn, *args, wrt=case.wrt)

    value = np.asarray(value)
    assert value.shape == expected_value.shape, f"{where}: value shape {value.shape}"
    assert_allclose_grads(value, expected_value, VALUE_RTOL, VALUE_ATOL, what=f"{where}: value",
                          scale_atol=False)
    grads = pullback(ct.copy())
    check_grad_structure(case.fn, case.wrt, args, grads, where)
    assert_allclose_grads(grads, fd_vjp(case.fn, args, ct, case.wrt), FD_RTOL, FD_ATOL,
                          what=f"{where}: vjp vs finite differences")
    jv = jax_vjp(case.fn, args, ct, case.wrt)
    if jv is not None:
        assert_allclose_grads(grads, jv, JAX_RTOL, JAX_ATOL, what=f"{where}: vjp vs JAX")
    # a pullback can be called again, with another cotangent (linearity)
    again = pullback(2.0 * ct)
    assert_allclose_grads(again, tuple(2.0 * np.asarray(g) for g in as_grad_tuple(grads)),
                          1e-13, 1e-15, what=f"{where}: pullback(2 ct) vs 2 pullback(ct)")


def test_vjp_control_flow_is_c_over_a():
    """d2l's control-flow function on a vector: c = k a for a piecewise-constant k, so the
    vjp with a cotangent of ones is k = c / a in every element."""
    case, _ = VJP_BY_NAME["vjp_control_flow"]
    for (a,) in case.points:
        c, pullback = srcgrad.vjp(case.fn, a)
        g = pullback(np.ones_like(a))
        assert_allclose_grads(g, np.asarray(c) / a, 1e-12, 0.0, what=f"vjp_control_flow(a={a!r})")


# the oracles themselves must be sound (no srcgrad here) ----------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("case,i", ALL_POINTS)
def test_oracle_fd_matches_jax(case, i):
    jg = _jax(case.name, i)
    if jg is None:
        pytest.skip("JAX cannot run this case (in-place writes)")
    if case.name in NOT_FD:
        # FD sees through stop_gradient; JAX must give the closed form instead
        assert_allclose_grads(jg, CLOSED_FORM[case.name](*case.points[i]), 1e-13, 1e-15,
                              what=f"{case.name}[{i}]: JAX vs closed form")
        return
    assert_allclose_grads(_fd(case.name, i), jg, 1e-8, 1e-10,
                          what=f"{describe(case, case.points[i])}: FD vs JAX")


@pytest.mark.slow
@pytest.mark.parametrize("case,i", ALL_POINTS)
def test_fd_step_insensitive(case, i):
    """FD with a 10x larger step agrees: no branch boundary, trip-count change or tie lies
    within 2e-3 (relative) of any coordinate of the point."""
    if case.name in NOT_FD:
        pytest.skip("FD does not apply (stop_gradient)")
    coarse = fd_grad_array(case.fn, case.points[i], case.wrt, rel_step=1e-3)
    assert_allclose_grads(coarse, _fd(case.name, i), 1e-7, 1e-9,
                          what=f"{describe(case, case.points[i])}: FD h=1e-3 vs h=1e-4")


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_jax_runs_programs_without_inplace_writes(case):
    """The JAX oracle must not silently drop out: it runs every program without writes."""
    if not jax_available():
        pytest.skip("jax is not installed")
    if has_inplace_writes(case.fn) or case.name in NOT_JAX:
        return
    for i in range(len(case.points)):
        assert _jax(case.name, i) is not None, \
            f"{case.name}[{i}]: JAX failed: {jax_failure(case.fn, case.points[i], case.wrt)}"


@pytest.mark.slow
@pytest.mark.parametrize("case,cts,i", VJP_POINTS)
def test_oracle_vjp_fd_matches_jax(case, cts, i):
    jv = jax_vjp(case.fn, case.points[i], cts[i], case.wrt)
    if jv is None:
        pytest.skip("JAX cannot run this case (in-place writes)")
    fd = fd_vjp(case.fn, case.points[i], cts[i], case.wrt)
    assert_allclose_grads(fd, jv, 1e-8, 1e-10, what=f"{case.name}[{i}]: FD vs JAX vjp")


def test_oracle_fd_shapes_and_orders():
    """fd_grad_array on known gradients: scalar and array arguments, both orders."""
    def f(s, x, A):
        return s * s * (x * x).sum() + (A * A * A).sum()

    s, x, A = 1.5, np.array([1.0, -2.0, 0.5]), np.arange(6.0).reshape(2, 3)
    for order in (2, 4):
        gs, gx, gA = fd_grad_array(f, (s, x, A), (0, 1, 2), order=order)
        assert isinstance(gs, float) and gx.shape == x.shape and gA.shape == A.shape
        assert_allclose_grads((gs, gx, gA), (2 * s * (x * x).sum(), 2 * s * s * x, 3 * A * A),
                              1e-7 if order == 4 else 1e-6, 1e-9)
    (g32,) = fd_grad_array(f, (s, x.astype(np.float32), A), 1)
    assert g32.dtype == np.float64  # oracles work in float64
    assert has_inplace_writes(f) is False
