"""srcgrad.runtime.arrays: the array adjoint helpers, against jax.vjp.

Every case runs the helper as plain Python and checks it against the
cotangent JAX computes (x64 enabled) for the corresponding jax.numpy
function. Core cases also run it inside numba.njit (error_model="numpy") and
require the compiled result to match the plain one (bitwise where the two do
the same float operations in the same order). Each compiled signature costs
Numba about half a second, so the core cases spread float64/float32, ndim
0-3 and C / transposed / strided layouts over the functions; the compiled
run of every other case, and a sweep over all types, are marked slow. The
njit wrappers are module-level, so each signature compiles once per run.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

import srcgrad.runtime.arrays as R

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

F64, F32 = np.float64, np.float32
slow = pytest.mark.slow
_NJ = dict(error_model="numpy")

# ---------------------------------------------------------------------------
# njit wrappers (module-level: each signature compiles once per test run)
# ---------------------------------------------------------------------------

J = {
    "unbroadcast": numba.njit(**_NJ)(lambda g, like: R.unbroadcast(g, like)),
    "empty_adjoint": numba.njit(**_NJ)(lambda like: R.empty_adjoint(like)),
    "ensure": numba.njit(**_NJ)(lambda b, like: R.ensure(b, like)),
    "accum": numba.njit(**_NJ)(lambda b, c, like: R.accum(b, c, like)),
    "sum_grad": numba.njit(**_NJ)(lambda g, x, a, k: R.sum_grad(g, x, a, k)),
    "reductions": numba.njit(**_NJ)(
        lambda g, x, hi, lo, a, k: (R.sum_grad(g, x, a, k), R.mean_grad(g, x, a, k),
                                    R.max_grad(g, x, hi, a, k), R.min_grad(g, x, lo, a, k))),
    "prod_grad": numba.njit(**_NJ)(lambda g, x, ans, a, k: R.prod_grad(g, x, ans, a, k)),
    "max_grad": numba.njit(**_NJ)(lambda g, x, ans, a, k: R.max_grad(g, x, ans, a, k)),
    "cumsum_grad": numba.njit(**_NJ)(lambda g, x, a: R.cumsum_grad(g, x, a)),
    "matmul": numba.njit(**_NJ)(
        lambda g, a, b: (R.matmul_grad_a(g, a, b), R.matmul_grad_b(g, a, b))),
    "outer": numba.njit(**_NJ)(
        lambda g, a, b: (R.outer_grad_a(g, a, b), R.outer_grad_b(g, a, b))),
    "trace_grad": numba.njit(**_NJ)(lambda g, x: R.trace_grad(g, x)),
    "norm_grad": numba.njit(**_NJ)(lambda g, x, ans, o: R.norm_grad(g, x, ans, o)),
    "transpose_grad": numba.njit(**_NJ)(lambda g: R.transpose_grad(g)),
    "reshape_grad": numba.njit(**_NJ)(lambda g, x: R.reshape_grad(g, x)),
    "concatenate_grad": numba.njit(**_NJ)(lambda g, x, a, s: R.concatenate_grad(g, x, a, s)),
    "stack_grad": numba.njit(**_NJ)(lambda g, a, k: R.stack_grad(g, a, k)),
    "maxmin": numba.njit(**_NJ)(
        lambda g, x, y: (R.maximum_grad_x(g, x, y), R.maximum_grad_y(g, x, y),
                         R.minimum_grad_x(g, x, y), R.minimum_grad_y(g, x, y))),
    "clip_grad": numba.njit(**_NJ)(lambda g, x, lo, hi: R.clip_grad(g, x, lo, hi)),
    "where": numba.njit(**_NJ)(lambda g, c: (R.where_grad_x(g, c), R.where_grad_y(g, c))),
    "abs_grad": numba.njit(**_NJ)(lambda g, x: R.abs_grad(g, x)),
    "sign_like_zero": numba.njit(**_NJ)(lambda g, x: R.sign_like_zero(g, x)),
}

PLAIN = {
    "reductions": lambda g, x, hi, lo, a, k: (
        R.sum_grad(g, x, a, k), R.mean_grad(g, x, a, k),
        R.max_grad(g, x, hi, a, k), R.min_grad(g, x, lo, a, k)),
    "matmul": lambda g, a, b: (R.matmul_grad_a(g, a, b), R.matmul_grad_b(g, a, b)),
    "outer": lambda g, a, b: (R.outer_grad_a(g, a, b), R.outer_grad_b(g, a, b)),
    "maxmin": lambda g, x, y: (R.maximum_grad_x(g, x, y), R.maximum_grad_y(g, x, y),
                               R.minimum_grad_x(g, x, y), R.minimum_grad_y(g, x, y)),
    "where": lambda g, c: (R.where_grad_x(g, c), R.where_grad_y(g, c)),
}


def results(jit, name, *args, exact=True):
    """[plain result] or [plain, compiled] for helper `name` (tuples for the
    combined wrappers). The compiled one must equal the plain one: bitwise if
    `exact`, else to rounding (a different summation order or BLAS kernel)."""
    plain = PLAIN[name](*args) if name in PLAIN else getattr(R, name)(*args)
    if not jit:
        return [plain]
    got = J[name](*args)
    for p, c in zip(*((plain, got) if name in PLAIN else ((plain,), (got,)))):
        assert type(p) is type(c), (type(p), type(c))
        if exact:
            np.testing.assert_array_equal(c, p)
        else:
            f32 = getattr(p, "dtype", None) == F32
            np.testing.assert_allclose(np.asarray(c, F64), np.asarray(p, F64),
                                       rtol=1e-6 if f32 else 1e-13, atol=1e-7 if f32 else 1e-14)
    return [plain, got]


def cases(n, core):
    """Parameters (k, jit): every case runs plain; the core cases also run
    compiled, the compiled run of the others is marked slow."""
    out = []
    for k in range(n):
        if k in core:
            out.append(pytest.param(k, True, id=f"{k}-plain+jit"))
        else:
            out.append(pytest.param(k, False, id=f"{k}-plain"))
            out.append(pytest.param(k, True, id=f"{k}-plain+jit", marks=slow))
    return out


# ---------------------------------------------------------------------------
# Inputs and references
# ---------------------------------------------------------------------------

_rng = np.random.default_rng(20240611)


def lay(vals, layout):
    """`vals` (an array) laid out as asked: "C" contiguous, "T" a transpose
    (Numba layout F), "S" a strided view (Numba layout A)."""
    if layout == "C":
        return np.ascontiguousarray(vals)
    if layout == "T":
        out = np.ascontiguousarray(vals.T).T
    else:
        base = np.zeros(vals.shape[:-1] + (2 * vals.shape[-1],), vals.dtype)
        out = base[..., ::2]
        out[...] = vals
    assert not out.flags.c_contiguous
    return out


def mk(shape, dtype=F64, layout="C", kind="normal"):
    """A scalar (shape ()) or an array of `shape`, `dtype` and `layout`. kind:
    "normal" values; "ties" small integers -2..2, each present when there are
    at least 5 entries (so ties and hits of -1, 0, 1 are certain); "pos"."""
    size = int(np.prod(shape, dtype=np.int64))
    if kind == "ties":
        vals = (np.arange(size) % 5 - 2).astype(F64)
        _rng.shuffle(vals)
    elif kind == "pos":
        vals = _rng.uniform(0.5, 1.5, size)
    else:
        vals = _rng.standard_normal(size)
    if shape == ():
        return float(vals[0]) if dtype is F64 else np.float32(vals[0])
    return lay(vals.reshape(shape).astype(dtype), layout)


def tol(dtype):
    return dict(rtol=1e-12, atol=1e-13) if dtype == F64 else dict(rtol=2e-5, atol=2e-6)


def vjp(f, primals, ct):
    """JAX's cotangents of f at primals for the output cotangent ct (as NumPy)."""
    prim = [jnp.asarray(p) for p in primals]
    out, back = jax.vjp(f, *prim)
    return [np.asarray(c) for c in back(jnp.asarray(ct).astype(out.dtype))]


def bcast_vjp(f, args, g):
    """JAX's cotangents for f at args broadcast to the result's shape (to
    compare with the elementwise helpers' full-shape results)."""
    shape = np.broadcast_shapes(np.shape(g), *(np.shape(a) for a in args))
    if not shape:
        return vjp(f, args, g)
    full = [np.broadcast_to(np.asarray(a), shape).copy() for a in args]
    return vjp(f, full, np.broadcast_to(np.asarray(g), shape).copy())


def check(got, want, dtype, scalar=False):
    """got is a float (scalar=True) or an ndarray of want's shape in `dtype`,
    numerically equal to want (inf and NaN in the same places)."""
    if scalar:
        assert isinstance(got, float) and not isinstance(got, np.ndarray), type(got)
    else:
        assert isinstance(got, np.ndarray), type(got)
        assert got.dtype == dtype, (got.dtype, dtype)
        assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(np.asarray(got, F64), np.asarray(want, F64), **tol(dtype))


def dt_of(a):
    return a.dtype.type if isinstance(a, np.ndarray) else F64


def isarr(*vals):
    return any(isinstance(v, np.ndarray) for v in vals)


def cot(shape, dtype=F64, layout="C"):
    """A random cotangent: an array, or a scalar of `dtype` for shape ()."""
    return mk(tuple(shape), dtype, layout if len(shape) else "C")


# ---------------------------------------------------------------------------
# unbroadcast, empty_adjoint, ensure, accum
# ---------------------------------------------------------------------------

UNB = [  # g, like
    (mk((2, 3, 4)), mk((3, 4))),
    (mk((2, 3, 4), F32, "S"), mk((3, 1), F32)),
    (mk((3, 4), F64, "T"), mk((1, 4), F64, "S")),
    (mk((2, 1, 4), F32), mk((1, 1), F32)),
    (mk((3, 4)), mk((4,), F32)),                   # float64 g into a float32 like
    (mk((4,)), mk((4,))),
    (mk((2, 3)), 1.0),                             # like a scalar: the sum
    (mk((2, 3), F32, "S"), np.float32(1.0)),
]


@pytest.mark.parametrize("k, jit", cases(len(UNB), core={1, 6}))
def test_unbroadcast_matches_jax_broadcast_to(k, jit):
    g, like = UNB[k]
    (want,) = vjp(lambda v: jnp.broadcast_to(v, g.shape), [like], g)
    for got in results(jit, "unbroadcast", g, like, exact=False):
        check(got, want, dt_of(like), scalar=not isarr(like))
        if isarr(got) and got.shape != g.shape:
            assert not np.shares_memory(got, g)


def test_unbroadcast_to_the_same_shape_is_the_array_itself_compiled():
    """No allocation in the common case (segment._owned treats the result as possibly g);
    a different shape still gives a new array."""
    g = np.arange(6.0).reshape(2, 3)
    assert J["unbroadcast"](g, np.zeros((2, 3))) is g
    got = J["unbroadcast"](g, np.zeros((1, 3)))
    assert not np.shares_memory(got, g)
    np.testing.assert_array_equal(got, [[3.0, 5.0, 7.0]])


@pytest.mark.parametrize("jit", [False, True])
def test_unbroadcast_scalar_g_fills_and_rejects_incompatible_shapes(jit):
    like = mk((2, 3), F32, "S")
    for got in results(jit, "unbroadcast", 2.5, like):
        check(got, np.full((2, 3), 2.5), F32)
    for got in results(jit, "unbroadcast", 2.5, 1.0):
        assert got == 2.5
    g, like = UNB[1]
    with pytest.raises(ValueError):      # (2, 3, 4) does not reduce to (2, 1)
        (J["unbroadcast"] if jit else R.unbroadcast)(g, np.ones((2, 1), F32))


@pytest.mark.parametrize("jit", [False, True])
def test_empty_adjoint_is_a_zero_size_sentinel_that_ensure_fills(jit):
    for like in [mk((2, 3), F32, "S")] + ([] if jit else [mk((4,)), mk((2, 1, 3))]):
        for got in results(jit, "empty_adjoint", like):
            assert got.size == 0 and got.ndim == like.ndim and got.dtype == like.dtype
            for fresh in results(jit, "ensure", got, like):
                check(fresh, np.zeros(like.shape), like.dtype)
    for got in results(jit, "empty_adjoint", 1.5):
        assert got == 0.0 and isinstance(got, float)


@numba.njit(**_NJ)
def _zero_d_adjoints(n):
    """Adjoints of 0-d arrays taken after other 0-d arrays were freed: the allocator
    hands the same block back, so an uninitialised sentinel would show old values."""
    seen = np.empty(n)
    for k in range(n):
        old = np.full((), 7.0 + k)
        b = R.accum(R.empty_adjoint(old), 1.5, old)
        seen[k] = b[()]
    return seen


def test_empty_adjoint_of_a_0d_array_is_zero():
    # a 0-d array has one element, so its sentinel cannot be zero-size
    np.testing.assert_array_equal(_zero_d_adjoints(50), np.full(50, 1.5))
    got = R.empty_adjoint(np.array(2.0))
    assert got.shape == () and got[()] == 0.0


@pytest.mark.parametrize("jit", [False, True])
def test_ensure_keeps_a_matching_buffer_and_casts_a_mismatched_dtype(jit):
    like = mk((3, 4))
    b = np.ones((3, 4))
    for got in results(jit, "ensure", b, like):
        assert np.shares_memory(got, b)
    for got in results(jit, "ensure", np.ones((3, 4), F32), like):     # cast
        check(got, np.ones((3, 4)), F64)
    for got in results(jit, "ensure", np.ones((2, 4)), like):          # zeros
        check(got, np.zeros((3, 4)), F64)


ACC = [  # b (None: start from the sentinel), c, like
    (None, mk((4,)), mk((3, 4))),                       # broadcast a row
    (None, mk((3, 1), F32, "S"), mk((2, 3, 4), F32)),   # broadcast over two dims
    (np.ones((3, 4)), 2.0, mk((3, 4))),                 # scalar c
    (np.ones((2, 3), F32), mk((2, 3), F64, "T"), mk((2, 3), F32)),
    (None, mk((2, 3, 4), F64, "S"), mk((2, 3, 4))),
]


@pytest.mark.parametrize("k, jit", cases(len(ACC), core={1}))
def test_accum_adds_a_broadcast_contribution_in_place(k, jit):
    b, c, like = ACC[k]
    want = (0.0 if b is None else b.astype(F64)) + np.asarray(c, F64) + np.zeros(like.shape)
    outs = []
    for fn in [R.accum, J["accum"]] if jit else [R.accum]:
        start = R.empty_adjoint(like) if b is None else b.copy()
        got = fn(start, c, like)
        check(got, want, like.dtype)
        if b is not None:                  # a usable buffer is updated in place
            assert np.shares_memory(got, start)
        again = fn(got, c, like)
        check(again, want + np.asarray(c, F64), like.dtype)
        assert np.shares_memory(again, got)
        outs.append(again)
    if jit:
        np.testing.assert_array_equal(outs[1], outs[0])


@pytest.mark.parametrize("jit", [False, True])
def test_accum_on_scalars(jit):
    fn = J["accum"] if jit else R.accum
    assert fn(0.0, 2.5, 1.0) == 2.5
    assert fn(1.0, 2.5, 1.0) == 3.5


# ---------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------

def _tie_extremes(x, axis):
    """Make the maximum (5) and the minimum (-5) tie in some lanes of x."""
    if axis is None:
        for p, val in zip(range(4), (5, 5, -5, -5)):
            x[np.unravel_index(p, x.shape)] = val
        return x
    v = np.moveaxis(x, axis, -1)
    lanes = list(np.ndindex(v.shape[:-1]))
    first, last = lanes[0], lanes[-1]
    v[first + (0,)] = v[first + (1,)] = 5
    if last == first:
        v[first + (2,)] = v[first + (3,)] = -5
    else:
        v[last + (0,)] = v[last + (1,)] = -5
    return x


RED = [  # x (small integers; the extremes tie in some lanes), axis, keepdims
    (_tie_extremes(mk((3, 4), F64, "C", "ties"), None), None, False),
    (_tie_extremes(mk((3, 4), F64, "T", "ties"), 0), 0, False),
    (_tie_extremes(mk((2, 3, 4), F32, "S", "ties"), 1), 1, True),
    (_tie_extremes(mk((2, 3, 4), F64, "T", "ties"), -1), -1, False),
    (_tie_extremes(mk((6,), F64, "C", "ties"), 0), 0, False),
    (_tie_extremes(mk((2, 3), F32, "C", "ties"), None), None, True),
    (-0.5, None, False),
]


def _reduce(jfn, x, axis, keepdims):
    out = np.asarray(jfn(jnp.asarray(x), axis=axis, keepdims=keepdims))
    return float(out) if out.ndim == 0 else out


@pytest.mark.parametrize("k, jit", cases(len(RED), core={2}))
def test_sum_mean_max_min_grads(k, jit):
    """sum/mean: g broadcast (/ n); max/min: split equally among the ties."""
    x, axis, keepdims = RED[k]
    hi, lo = _reduce(jnp.max, x, axis, keepdims), _reduce(jnp.min, x, axis, keepdims)
    g = cot(np.shape(hi), dt_of(x))
    wants = [vjp(lambda v, f=f: f(v, axis=axis, keepdims=keepdims), [x], g)[0]
             for f in (jnp.sum, jnp.mean, jnp.max, jnp.min)]
    for got in results(jit, "reductions", g, x, hi, lo, axis, keepdims):
        for r, want in zip(got, wants):
            check(r, want, dt_of(x), scalar=not isarr(x))
        if isarr(x):   # a tie really occurs: entries that get half of their lane's g
            for r, ext in zip(got[2:], (hi, lo)):
                ext = np.asarray(ext).reshape(np.shape(_reduce(jnp.max, x, axis, True)))
                tied = (x == ext) & (np.sum(x == ext, axis=axis, keepdims=True) == 2)
                assert tied.any() and np.all(r[tied] != 0)


def reduction(jit, name, jfn, x, axis, keepdims, with_ans=False, exact=True):
    """Check helper `name` against jax.vjp of jfn(x, axis, keepdims); return
    the results."""
    out = np.asarray(jfn(jnp.asarray(x), axis=axis, keepdims=keepdims))
    g = cot(out.shape, out.dtype.type)
    (want,) = vjp(lambda v: jfn(v, axis=axis, keepdims=keepdims), [x], g)
    ans = (float(out) if out.ndim == 0 else out,) if with_ans else ()
    got = results(jit, name, g, x, *ans, axis, keepdims, exact=exact)
    for r in got:
        check(r, want, dt_of(x), scalar=not isarr(x))
    return got


@pytest.mark.parametrize("jit", [False, True])
def test_reduction_rejects_a_wrong_size_adjoint(jit):
    x, axis, keepdims = RED[2]
    with pytest.raises(ValueError):
        (J["sum_grad"] if jit else R.sum_grad)(np.ones((2, 2, 4), F32), x, axis, keepdims)


def _with_zeros(shape, dtype=F64, layout="C"):
    """Positive entries and zeros at C positions 0, 1, 5 and the last: lanes
    with one zero and lanes with two."""
    x = mk(shape, dtype, layout, kind="pos")
    x[np.unravel_index([0, 1, 5, x.size - 1], shape)] = 0
    return x


PROD = [
    (_with_zeros((3, 4)), 0, False),
    (_with_zeros((2, 3, 4), F32, "S"), -1, False),
    (_with_zeros((6,)), None, False),
    (1.5, None, False),
]


@pytest.mark.parametrize("k, jit", cases(len(PROD), core={1}))
def test_prod_grad_is_exact_with_zeros(k, jit):
    x, axis, keepdims = PROD[k]
    for got in reduction(jit, "prod_grad", jnp.prod, x, axis, keepdims, with_ans=True):
        if k < 2:   # at a lane's lone zero the adjoint is the others' product
            assert np.any((x == 0) & (got != 0))
        if k == 2:  # three zeros in the one lane: all products of the others are 0
            assert (x == 0).sum() == 3 and not np.any(got)


@pytest.mark.parametrize("jit", [False, True])
def test_max_grad_nan_lane_is_nan_like_jax(jit):
    x = np.array([[1.0, np.nan, 2.0], [3.0, 1.0, 3.0]])
    g = np.array([1.0, 2.0])
    (want,) = vjp(lambda v: jnp.max(v, axis=1), [x], g)
    for got in results(jit, "max_grad", g, x, np.max(x, axis=1), 1, False):
        assert np.isnan(want[0]).all() and np.isnan(got[0]).all()
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[1], [1.0, 0.0, 1.0])


CUMSUM = [  # x, axis, layout of g
    (mk((3, 4)), None, "C"),
    (mk((2, 3, 4), F32, "S"), 1, "S"),
    (mk((5,)), 0, "C"),
    (mk((3, 4), F64, "T"), -1, "T"),
    (2.0, None, "C"),
]


@pytest.mark.parametrize("k, jit", cases(len(CUMSUM), core={1}))
def test_cumsum_grad(k, jit):
    x, axis, layout = CUMSUM[k]
    out = np.asarray(jnp.cumsum(jnp.asarray(x), axis=axis))
    g = cot(out.shape, out.dtype.type, layout)
    (want,) = vjp(lambda v: jnp.cumsum(v, axis=axis), [x], g)
    for got in results(jit, "cumsum_grad", g, x, axis):
        check(got, want, dt_of(x), scalar=not isarr(x))


# ---------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------

MM = [  # a, b
    (mk((3, 5)), mk((5, 2))),
    (mk((3, 5), F32, "S"), mk((5,), F32)),
    (mk((5,)), mk((5, 2), F64, "T")),
    (mk((5,), F32), mk((5,), F32, "S")),
    (mk((3, 5), F32), mk((5, 2))),          # mixed dtypes
    (mk((4, 3), F64, "T"), mk((3, 2), F64, "S")),
]


def _check_product(jfun, name: str, a, b, jit) -> None:
    """The adjoints of a product (name_grad_a, name_grad_b) against jax.vjp of jfun."""
    out = np.asarray(jfun(jnp.asarray(a), jnp.asarray(b)))
    g = cot(out.shape, out.dtype.type)
    want_a, want_b = vjp(jfun, [a, b], g)
    for ga, gb in results(jit, name, g, a, b, exact=False):
        check(ga, want_a, dt_of(a), scalar=not isarr(a))
        check(gb, want_b, dt_of(b))


@pytest.mark.parametrize("k, jit", cases(len(MM), core={0, 1}))
def test_matmul_grads(k, jit):
    _check_product(jnp.matmul, "matmul", *MM[k], jit)


def test_dot_grads_are_the_matmul_grads_and_match_jnp_dot():
    assert R.dot_grad_a is R.matmul_grad_a and R.dot_grad_b is R.matmul_grad_b
    a, b = mk((3, 5)), mk((5,))
    g = mk((3,))
    want_a, want_b = vjp(jnp.dot, [a, b], g)
    check(R.dot_grad_a(g, a, b), want_a, F64)
    check(R.dot_grad_b(g, a, b), want_b, F64)


OUTER = [
    (mk((3,)), mk((4,))),
    (mk((2, 3), F32, "S"), mk((4,), F32)),
    (2.0, mk((3,), F64, "S")),
]


@pytest.mark.parametrize("k, jit", cases(len(OUTER), core={1}))
def test_outer_grads(k, jit):
    _check_product(jnp.outer, "outer", *OUTER[k], jit)


TRACE = [mk((3, 4)), mk((4, 4), F32, "S"), mk((4, 2), F64, "T")]


@pytest.mark.parametrize("k, jit", cases(len(TRACE), core={1}))
def test_trace_grad(k, jit):
    x = TRACE[k]
    g = x.dtype.type(1.5)
    (want,) = vjp(jnp.trace, [x], g)
    for got in results(jit, "trace_grad", g, x):
        check(got, want, x.dtype)


NORM = [  # x, ord
    (mk((5,)), None),
    (mk((3, 4), F32, "S"), None),
    (mk((2, 3), F64, "T"), None),
    (np.array([0.0, -2.0, 3.0, -0.0, 1.0]), 1),
    (mk((5,), F32), 2),
]


@pytest.mark.parametrize("k, jit", cases(len(NORM), core={1, 3}))
def test_norm_grad(k, jit):
    x, ord_ = NORM[k]
    g = x.dtype.type(0.75)
    ans = float(np.linalg.norm(x, ord_))
    (want,) = vjp(lambda v: jnp.linalg.norm(v, ord_), [x], g)
    for got in results(jit, "norm_grad", g, x, ans, ord_):
        check(got, want, x.dtype)


@pytest.mark.parametrize("jit", [False, True])
def test_norm_grad_at_zero_is_nan_like_jax_and_other_ords_raise(jit):
    x = lay(np.zeros((3, 4), F32), "S")
    (want,) = vjp(jnp.linalg.norm, [x], np.float32(1.0))
    for got in results(jit, "norm_grad", np.float32(1.0), x, 0.0, None):
        assert np.isnan(want).all() and np.isnan(got).all()
    x, _ = NORM[3]
    with pytest.raises(ValueError):
        (J["norm_grad"] if jit else R.norm_grad)(0.75, x, 3.0, 3)


# ---------------------------------------------------------------------------
# Shape operations
# ---------------------------------------------------------------------------

TRANSPOSE = [mk((3, 4)), mk((2, 3, 4), F32, "S"), 1.25]


@pytest.mark.parametrize("k, jit", cases(len(TRANSPOSE), core={1}))
def test_transpose_grad(k, jit):
    g = TRANSPOSE[k]
    x = np.zeros(np.shape(g)[::-1], dt_of(g)) if isarr(g) else 0.0
    (want,) = vjp(jnp.transpose, [x], g)
    for got in results(jit, "transpose_grad", g):
        check(got, want, dt_of(g), scalar=not isarr(g))


RESHAPE = [  # g, x
    (mk((12,)), mk((3, 4))),
    (mk((6, 2), F32, "T"), mk((3, 4), F32, "S")),
    (mk((2, 3, 4), F64, "S"), mk((24,))),
    (mk((1, 1)), 3.0),
]


@pytest.mark.parametrize("k, jit", cases(len(RESHAPE), core={1}))
def test_reshape_grad(k, jit):
    g, x = RESHAPE[k]
    (want,) = vjp(lambda v: jnp.reshape(v, g.shape), [x], g)
    for got in results(jit, "reshape_grad", g, x):
        check(got, want, dt_of(x), scalar=not isarr(x))


CONCAT = [  # piece shapes, axis, dtype, layout of g
    ([(2, 3), (2, 1), (2, 4)], 1, F64, "C"),
    ([(1, 3, 2), (2, 3, 2)], 0, F32, "S"),
    ([(3,), (2, 2), (1,)], None, F64, "C"),
    ([(2, 2, 3), (2, 2, 1)], -1, F64, "T"),
]


@pytest.mark.parametrize("k, jit", cases(len(CONCAT), core={1}))
def test_concatenate_grad(k, jit):
    shapes, axis, dtype, layout = CONCAT[k]
    xs = [mk(s, dtype) for s in shapes]
    out = np.asarray(jnp.concatenate([jnp.asarray(v) for v in xs], axis=axis))
    g = mk(out.shape, dtype, layout)
    wants = vjp(lambda *vs: jnp.concatenate(vs, axis=axis), xs, g)
    start = 0
    for x, want in zip(xs, wants):
        for got in results(jit, "concatenate_grad", g, x, axis, start):
            check(got, want, dtype)
        start += x.size if axis is None else x.shape[axis]


STACK = [  # piece shape, count, axis, dtype, layout of g
    ((2, 3), 3, 0, F64, "C"),
    ((2, 3), 2, 2, F32, "S"),
    ((2, 3), 2, -2, F64, "T"),
    ((4,), 3, 1, F64, "C"),
    ((), 3, 0, F64, "S"),
]


@pytest.mark.parametrize("k, jit", cases(len(STACK), core={1}))
def test_stack_grad(k, jit):
    shape, count, axis, dtype, layout = STACK[k]
    xs = [mk(shape, dtype) for _ in range(count)]
    out = np.asarray(jnp.stack([jnp.asarray(v) for v in xs], axis=axis))
    g = mk(out.shape, dtype, layout)
    wants = vjp(lambda *vs: jnp.stack(vs, axis=axis), xs, g)
    for i, want in enumerate(wants):
        for got in results(jit, "stack_grad", g, axis, i):
            check(got, want, dtype, scalar=shape == ())


# ---------------------------------------------------------------------------
# Elementwise rules: the full broadcast shape, JAX's values at ties
# ---------------------------------------------------------------------------

def _pair(x_shape, y, dtype=F64, layout="C"):
    """(x, y): x small integers, equal to y (broadcast) on its first entries."""
    x = mk(x_shape, dtype, "C", kind="ties")
    first = np.arange(x.size).reshape(x_shape) < np.size(y)
    x[...] = np.where(first, np.asarray(y, F64), x)
    return lay(x, layout), y


_P0 = _pair((3, 4), mk((4,), F64, "C", "ties"))
_P1 = _pair((2, 3, 4), np.float32(0.0), F32, "T")
_P3 = _pair((2, 2), 0.0, F64, "S")
PAIRS = [  # g, x, y: x == y in places
    (mk((3, 4)), *_P0),
    (mk((2, 3, 4), F32, "S"), *_P1),
    (mk((3,)), 1.0, np.array([0.0, 1.0, 2.0])),
    (2.0, *_P3),                                   # a scalar g, an array x
    (1.5, 1.0, 1.0),
    (1.5, 2.0, 1.0),
    (mk((4,)), np.array([np.nan, 1.0, 2.0, np.nan]), np.array([1.0, np.nan, 2.0, np.nan])),
]


@pytest.mark.parametrize("k, jit", cases(len(PAIRS), core={1}))
def test_maximum_minimum_grads_split_ties(k, jit):
    g, x, y = PAIRS[k]
    scalar = not isarr(g, x, y)
    out_dt = dt_of(g) if isarr(g) else F64
    wants = bcast_vjp(jnp.maximum, [x, y], g) + bcast_vjp(jnp.minimum, [x, y], g)
    for got in results(jit, "maxmin", g, x, y):
        for r, want in zip(got, wants):
            check(r, want, out_dt, scalar)
        if k < 5:   # a tie occurs, and each side got half of g there
            tie = np.broadcast_to(np.equal(x, y), np.shape(wants[0]))
            half = 0.5 * np.broadcast_to(g, tie.shape)
            assert tie.any()
            for r in got:
                np.testing.assert_array_equal(np.asarray(r)[tie], half[tie])


_X32 = mk((3, 4), F32, "C", "ties")
CLIP = [  # g, x, lo, hi
    (mk((3, 4)), mk((3, 4), F64, "C", "ties"), -1.0, 1.0),   # x == lo and x == hi occur
    (mk((3, 4), F32, "S"), _X32, _X32[0].copy(), np.float32(1.0)),   # lo an array
    (mk((5,)), mk((5,), F64, "C", "ties"), None, 0.0),
    (mk((2, 5)), mk((2, 5), F64, "T", "ties"), 0.0, None),
    (mk((5,)), mk((5,), F64, "C", "ties"), 1.0, 1.0),        # lo == hi: 0.25 at x == 1
    (mk((5,)), mk((5,), F64, "C", "ties"), 1.0, -1.0),       # lo > hi: 0
    (1.0, 1.0, 1.0, 2.0),
]


@pytest.mark.parametrize("k, jit", cases(len(CLIP), core={1, 6}))
def test_clip_grad_matches_jax_at_the_bounds(k, jit):
    g, x, lo, hi = CLIP[k]
    bounds = [b for b in (lo, hi) if b is not None]
    shape = np.broadcast_shapes(*(np.shape(v) for v in [g, x] + bounds))
    xb = np.broadcast_to(np.asarray(x), shape).copy() if shape else x
    gb = np.broadcast_to(np.asarray(g), shape).copy() if shape else g
    (want,) = vjp(lambda v: jnp.clip(v, lo, hi), [xb], gb)
    for got in results(jit, "clip_grad", g, x, lo, hi):
        check(got, want, dt_of(g) if isarr(g) else F64, scalar=not isarr(g, x, lo, hi))
        if k in (0, 1, 4):   # x meets the bounds (lo <= hi): factor 0.5 (0.25)
            at = (np.equal(x, lo) | np.equal(x, hi)) & np.less_equal(lo, hi)
            at = np.broadcast_to(at, np.shape(got))
            frac = np.broadcast_to(np.where(np.equal(lo, hi), 0.25, 0.5), at.shape)
            assert at.any()
            np.testing.assert_allclose(np.asarray(got)[at],
                                       (frac * np.broadcast_to(g, at.shape))[at], rtol=1e-6)


WHERE = [  # g, c
    (mk((3, 4)), mk((3, 4)) > 0),
    (mk((2, 3, 4), F32, "S"), mk((4,)) > 0),
    (mk((3,)), True),
    (np.array([np.inf, -np.inf, np.nan, 1.0]), np.array([True, False, True, False])),
    (2.0, False),
]


@pytest.mark.parametrize("k, jit", cases(len(WHERE), core={3}))
def test_where_grads_select(k, jit):
    g, c = WHERE[k]
    shape = np.broadcast_shapes(np.shape(g), np.shape(c))
    zeros = np.zeros(shape) if shape else 0.0
    want_x, want_y = bcast_vjp(lambda a, b: jnp.where(c, a, b), [zeros, zeros], g)
    out_dt = dt_of(g) if isarr(g) else F64
    for got_x, got_y in results(jit, "where", g, c):
        check(got_x, want_x, out_dt, scalar=not isarr(g, c))
        check(got_y, want_y, out_dt, scalar=not isarr(g, c))


ABS = [  # g, x
    (mk((5,)), np.array([-1.0, 0.0, -0.0, 2.0, np.nan])),
    (mk((2, 3, 4), F32, "S"), mk((3, 4), F32, "T")),
    (mk((3, 4)), 0.0),
    (1.5, -0.0),
    (1.5, -2.0),
]


@pytest.mark.parametrize("k, jit", cases(len(ABS), core={0, 3}))
def test_abs_grad_has_slope_one_at_zero(k, jit):
    g, x = ABS[k]
    (want,) = bcast_vjp(jnp.abs, [x], g)
    for got in results(jit, "abs_grad", g, x):
        check(got, want, dt_of(g) if isarr(g) else F64, scalar=not isarr(g, x))


SIGN = [mk((3, 4), F32, "S"), mk((2, 3, 4)), -1.5]


@pytest.mark.parametrize("k, jit", cases(len(SIGN), core={0, 2}))
def test_sign_like_zero(k, jit):
    x = SIGN[k]
    g = cot(np.shape(x), dt_of(x))
    for jfn in (jnp.sign, jnp.floor):
        (want,) = vjp(jfn, [x], g)
        for got in results(jit, "sign_like_zero", g, x):
            check(got, want, dt_of(x), scalar=not isarr(x))


# ---------------------------------------------------------------------------
# Every dtype x ndim x layout, compiled (many signatures: slow)
# ---------------------------------------------------------------------------

def _layouts(ndim):
    return ["C"] if ndim == 0 else (["C", "S", "T"] if ndim >= 2 else ["C", "S"])


SWEEP = [(nd, dt, lay_) for nd in range(4) for dt in (F64, F32) for lay_ in _layouts(nd)]


@slow
@pytest.mark.parametrize("nd, dtype, layout", SWEEP)
def test_sweep_reductions_unbroadcast_maximum_every_type(nd, dtype, layout):
    shape = (3, 2, 4)[:nd]
    x = mk(shape, dtype, layout, kind="ties")
    for axis in [None] + list(range(-nd, nd)):
        for name, jfn in (("sum_grad", jnp.sum), ("max_grad", jnp.max)):
            reduction(True, name, jfn, x, axis, False, with_ans=name == "max_grad")
    if nd:
        g = mk((2,) + shape, dtype, layout)
        like = mk(shape[:-1] + (1,), dtype)
        (want,) = vjp(lambda v: jnp.broadcast_to(v, g.shape), [like], g)
        for got in results(True, "unbroadcast", g, like, exact=False):
            check(got, want, dtype)
        y = mk(shape[-1:], dtype, "C", kind="ties")
        wants = bcast_vjp(jnp.maximum, [x, y], g[0]) + bcast_vjp(jnp.minimum, [x, y], g[0])
        for got in results(True, "maxmin", g[0], x, y):
            for r, want in zip(got, wants):
                check(r, want, dtype)
