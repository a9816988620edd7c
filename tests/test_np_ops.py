"""srcgrad.np_ops: NumPy's reductions with axis/keepdims, also under numba.njit.

The plain functions are NumPy itself; the compiled ones must give NumPy's
results exactly: the same values (NumPy's pairwise summation order
included), shape and dtype. Each driver below calls one or a few functions
in the variants that take distinct code paths (keepdims, an int axis or
None, ords) and is compiled with explicit 'A'-layout signatures, so that C,
Fortran, strided, reversed, transposed and permuted arrays all run through
the same compiled code. A compiled signature costs Numba a fraction of a
second per variant, so the signatures are few: float64 of 2 and 3 dimensions
(and 1 for sum and the norms), float32 of 3 dimensions where the summation
order matters; the kernels see every array as 3-D, and other cases run with
leading length-1 axes added. C-layout arrays and constant axes: see
test_constant_axes_in_the_source. The drivers are built on first use and
cached for the module (about a minute of compiling in all).
"""

from __future__ import annotations

import functools
import itertools
import warnings

import numba
import numpy as np
import pytest
from numba import types
from numba.core.errors import TypingError
from numpy.exceptions import AxisError

from srcgrad.runtime import np_ops as O

F64, F32 = np.float64, np.float32
_NJ = dict(error_model="numpy")


# ---------------------------------------------------------------------------
# drivers

def _sum(x, axis):
    return (O.sum_axis(x, axis, False), O.sum_axis(x, axis, True), O.sum_axis(x, None, False),
            O.sum_axis(x, None, True))


def _mean(x, axis):
    return O.mean_axis(x, axis, False), O.mean_axis(x, None, False)


def _folds(x, axis):
    return (O.prod_axis(x, axis, False), O.prod_axis(x, None, False), O.max_axis(x, axis, False),
            O.max_axis(x, None, False), O.min_axis(x, axis, False), O.min_axis(x, None, False))


def _cumsum(x, axis):
    return O.cumsum_axis(x, axis), O.cumsum_axis(x, None)


def _norm_axis(x, axis, o):
    # ord None: sqrt of the sum of squares; a float ord: the run-time dispatch
    # (2, 1, inf, -inf, 0)
    return O.norm_axis(x, None, axis, False), O.norm_axis(x, o, axis, True)


def _norm(x, o):
    # ord None, and a float ord dispatched at run time
    return O.norm(x, None), O.norm(x, o)


def _norm3d(x):
    return O.norm(x, None), O.norm_axis(x, None, None, True)


def _transpose(x, axes):
    return O.transpose_axes(x, axes)


DRIVERS = {
    "sum": _sum,
    "mean": _mean,
    "folds": _folds,  # prod, max, min (on positive data, so that products stay finite)
    "cumsum": _cumsum,
    "norm_axis": _norm_axis,
}
NUMPY = {**DRIVERS, "norm": _norm}  # the references: uncompiled (np_ops' plain functions are NumPy)

VECTOR_ORDS = (2.0, 1.0, np.inf, -np.inf, 0.0)
MATRIX_ORDS = (1.0, -1.0, np.inf, -np.inf)


# float32 matters where the summation order does (products, maxima and
# cumulative sums are sequential, the same generic code for both dtypes)
F32_DRIVERS = ("sum", "mean", "norm_axis")


def _arr(dtype, ndim, layout="A"):
    return types.Array(numba.from_dtype(np.dtype(dtype)), ndim, layout)


@functools.cache
def compiled(name):
    """The njit driver `name` for float64 arrays of 2 and 3 dimensions (and 1
    for sum: the 1-D wrappers are the same code for every function) and
    float32 arrays of 3 (F32_DRIVERS), all 'A' layout."""
    extra = (types.float64,) if name == "norm_axis" else ()
    ndims = (1, 2, 3) if name == "sum" else (2, 3)
    sigs = [(_arr(F64, nd), types.int64) + extra for nd in ndims]
    if name in F32_DRIVERS:
        sigs.append((_arr(F32, 3), types.int64) + extra)
    return numba.njit(sigs, **_NJ)(DRIVERS[name])


def compiled_ndims(fn):
    return {sig.args[0].ndim for sig in fn.nopython_signatures if sig.args[0].dtype == types.float64}


@functools.cache
def compiled_norm():
    sigs = [(_arr(dt, nd), types.float64) for dt, nd in ((F64, 1), (F64, 2), (F32, 1))]
    return numba.njit(sigs, **_NJ)(_norm)


@functools.cache
def compiled_norm3d():
    return numba.njit([(_arr(F64, 3),)], **_NJ)(_norm3d)


@functools.cache
def compiled_transpose(ndim):
    sigs = [(_arr(F64, ndim), types.UniTuple(types.int64, ndim))]
    return numba.njit(sigs, **_NJ)(_transpose)


# ---------------------------------------------------------------------------
# arrays

SHAPES = {
    1: [(1,), (5,), (8,), (17,), (130,), (300,), (1000,), (20000,)],
    2: [(1, 1), (3, 4), (1, 7), (7, 1), (9, 31), (40, 20), (130, 3), (3, 200), (100, 90),
        (9000, 3), (3, 9000)],
    3: [(2, 3, 4), (1, 50, 7), (6, 1, 70), (20, 30, 2), (4, 9, 17), (30, 30, 30), (3, 1, 5000)],
}


def layouts(rng, shape, dtype, positive=False):
    """(name, array) pairs of the given shape in many memory layouts."""
    def draw(s):
        a = rng.standard_normal(s)
        return (1.0 + 0.01 * a if positive else a).astype(dtype)
    nd = len(shape)
    base = draw(shape)
    yield "C", base
    yield "F", np.asfortranarray(base)
    yield "T", draw(shape[::-1]).T
    big = draw(tuple(2 * n + 1 for n in shape))
    yield "step2", big[tuple(slice(0, 2 * n, 2) for n in shape)]
    yield "reversed", big[tuple(slice(n - 1, None, -1) for n in shape)]
    if nd == 1:
        yield "mixed", big[::-2][:shape[0]]
    else:  # forward on the first axis, backwards with step 2 on the others
        rev = big[(slice(0, shape[0]),) + (slice(None, None, -2),) * (nd - 1)]
        yield "mixed", rev[(slice(None),) + tuple(slice(0, n) for n in shape[1:])]
    if nd >= 2:
        yield "last_sliced", big[tuple(slice(0, n) for n in shape)]
    if nd == 3:
        yield "perm", np.transpose(draw((shape[1], shape[2], shape[0])), (2, 0, 1))
        yield "perm2", np.transpose(draw((shape[2], shape[0], shape[1])), (1, 2, 0))


def cases(ndim, dtype, positive=False, seed=0):
    rng = np.random.default_rng(seed + 10 * ndim)
    for shape in SHAPES[ndim]:
        for name, x in layouts(rng, shape, dtype, positive):
            assert x.shape == shape, (name, x.shape, shape)
            yield f"{shape}-{name}", x


# ---------------------------------------------------------------------------
# comparison

def assert_same(got, want, where):
    """Bitwise NumPy equality (NaN == NaN) and the same shape; the dtype is
    checked on the compiled signatures (Numba returns scalars as Python floats)."""
    want = np.asarray(want)
    got = np.asarray(got, dtype=want.dtype)
    assert got.shape == want.shape, (where, got.shape, want.shape)
    np.testing.assert_array_equal(got, want, err_msg=str(where), strict=True)


def assert_all_same(got, want, where):
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert_same(g, w, (where, k))


def numba_dtype(t):
    return np.dtype(str(t.dtype if isinstance(t, types.Array) else t))


def check_return_types(dispatcher, reference):
    """Every compiled signature returns NumPy's dtypes and numbers of dimensions."""
    for sig in dispatcher.nopython_signatures:
        arg = sig.args[0]
        x = np.ones((2,) * arg.ndim, dtype=str(arg.dtype))
        rest = [np.int64(0), 2.0][:len(sig.args) - 1]  # axis 0, ord 2
        want = reference(x, *rest)
        rts = sig.return_type
        rts = list(rts) if isinstance(rts, types.BaseTuple) else [rts]
        want = want if isinstance(want, tuple) else (want,)
        for rt, w in zip(rts, want):
            w = np.asarray(w)
            assert numba_dtype(rt) == w.dtype, (sig, rt, w.dtype)
            assert (rt.ndim if isinstance(rt, types.Array) else 0) == w.ndim, (sig, rt, w.shape)


# ---------------------------------------------------------------------------
# reductions and cumsum

NAMES = ["sum", "mean", "folds", "cumsum", "norm_axis"]


def _calls(name, x, axis):
    """The driver's argument tuples for x along axis."""
    if name != "norm_axis":
        return [(x, axis)]
    return [(x, axis, o) for o in VECTOR_ORDS]


@pytest.mark.parametrize(("name", "ndim", "dtype"), [
    pytest.param(name, ndim, dtype, id=f"{name}-{ndim}d-{'f64' if dtype is F64 else 'f32'}")
    for name in NAMES for ndim in (1, 2, 3) for dtype in (F64, F32)
    if dtype is F64 or name in F32_DRIVERS])
def test_matches_numpy_exactly(name, ndim, dtype):
    fn = compiled(name)
    ref = NUMPY[name]
    n = 0
    for where, x in cases(ndim, dtype, positive=(name == "folds")):
        if dtype is F32 or x.ndim not in compiled_ndims(fn):
            x = x[(None,) * (3 - ndim)]  # through the 3-D signature
        for axis in range(-x.ndim, x.ndim):
            for args in _calls(name, x, axis):
                assert_all_same(fn(*args), ref(*args), (name, where, args[1:]))
                n += 1
    assert n > 50


@pytest.mark.parametrize("name", NAMES)
def test_result_dtypes_and_ndims(name):
    check_return_types(compiled(name), NUMPY[name])


def test_numba_own_sum_is_not_numpys_order():
    """Why sum_axis exists even for axis=None: Numba's np.sum adds left to right."""
    x = np.random.default_rng(1).standard_normal(1000)
    native = numba.njit(lambda a: np.sum(a))(x)
    ours = compiled("sum")(x, 0)[2]
    assert ours == np.sum(x)
    assert native != np.sum(x)  # holds for this seed; NumPy sums pairwise


def test_sums_of_negative_zeros_and_special_values():
    fn = compiled("sum")
    for vals in ([-0.0], [-0.0] * 9, [np.inf, 1.0, -np.inf], [np.nan, 1.0], [1e308, 1e308, -1e308]):
        x = np.array(vals)
        with np.errstate(all="ignore"):
            want = NUMPY["sum"](x, 0)
        assert_all_same(fn(x, 0), want, vals)


def test_max_min_propagate_nan():
    rng = np.random.default_rng(3)
    fn, ref = compiled("folds"), NUMPY["folds"]
    for shape in [(1, 7), (4, 5), (3, 4, 5)]:
        for pos in range(0, int(np.prod(shape)), 3):
            x = rng.standard_normal(shape)
            x.flat[pos] = np.nan
            for axis in range(len(shape)):
                assert_all_same(fn(x, axis), ref(x, axis), (shape, pos, axis))
                assert_all_same(fn(x.T, axis), ref(x.T, axis), (shape, pos, axis))


def test_empty_arrays():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "Mean of empty slice"
        for name in ("sum", "mean", "cumsum"):
            fn, ref = compiled(name), NUMPY[name]
            for shape in [(0,), (0, 3), (3, 0), (2, 0, 4)]:
                if len(shape) not in compiled_ndims(fn):
                    continue
                x = np.zeros(shape)
                for axis in range(len(shape)):
                    assert_all_same(fn(x, axis), ref(x, axis), (name, shape, axis))
    prod = numba.njit(**_NJ)(lambda x, axis: (O.prod_axis(x, axis, False), O.prod_axis(x, None, True)))
    for shape in [(0, 3), (3, 0)]:
        for axis in (0, 1):
            x = np.zeros(shape)
            assert_all_same(prod(x, axis), (np.prod(x, axis), np.prod(x, None, keepdims=True)), shape)
    fn = compiled("folds")  # max and min of nothing: NumPy raises
    with pytest.raises(ValueError, match="zero-size"):
        fn(np.zeros((0, 2)), 0)
    with pytest.raises(ValueError, match="zero-size"):
        fn(np.zeros((3, 0)), 1)
    # (the reduced axis is not empty: an empty result, but axis=None raises)
    with pytest.raises(ValueError, match="zero-size"):
        fn(np.zeros((3, 0)), 0)


@pytest.mark.parametrize("name", NAMES)
def test_axis_out_of_bounds_raises_axis_error(name):
    fn = compiled(name)
    x = np.ones((2, 3))
    for axis in (2, -3, 7):
        args = _calls(name, x, axis)[0]
        with pytest.raises(AxisError):
            NUMPY[name](*args)
        with pytest.raises(AxisError):
            fn(*args)


def test_constant_axes_in_the_source():
    """C arrays, with axis and keepdims written as constants (what the
    normalizer emits), or left out."""
    def f(x):
        return (O.sum_axis(x, 1, True), O.sum_axis(x, -1, False), O.mean_axis(x, 0, True),
                O.prod_axis(x, 1, True), O.max_axis(x, None, True), O.min_axis(x, 0, True),
                O.cumsum_axis(x, -1), O.transpose_axes(x, (1, 0)),
                O.sum_axis(x), O.mean_axis(x, 1), O.cumsum_axis(x), O.norm(x), O.norm_axis(x))
    fn = numba.njit(**_NJ)(f)
    rng = np.random.default_rng(5)
    for x in (rng.standard_normal((40, 30)), rng.standard_normal((3, 300)), np.ones((1, 1))):
        assert_all_same(fn(x), f(x), x.shape)
    assert fn.nopython_signatures[0].args[0].layout == "C"


# ---------------------------------------------------------------------------
# norms

@pytest.mark.parametrize(("ndim", "dtype"), [(1, F64), (2, F64), (3, F64), (1, F32)],
                         ids=["1d-f64", "2d-f64", "3d-f64", "1d-f32"])
def test_norms_match_numpy(ndim, dtype):
    if ndim == 3:  # ord=None only
        fn = compiled_norm3d()
        for where, x in cases(ndim, dtype, seed=7):
            assert_all_same(fn(x), _norm3d(x), where)
        return
    fn = compiled_norm()
    ords = {1: VECTOR_ORDS, 2: MATRIX_ORDS}[ndim]
    for where, x in cases(ndim, dtype, seed=7):
        for o in ords:
            assert_all_same(fn(x, o), _norm(x, o), (where, o))
    for x in (np.zeros((2,) * ndim, dtype), np.full((3,) * ndim, -0.0, dtype)):
        for o in ords:
            assert_all_same(fn(x, o), _norm(x, o), ("zeros", o))
    if ndim == 1:
        x = np.array([0.0, 3.0, -0.0, 4.0, 0.0], dtype)
        for o in ords:
            assert_all_same(fn(x, o), _norm(x, o), ("some zeros", o))


def test_norm_result_dtypes():
    for sig in compiled_norm().nopython_signatures + compiled_norm3d().nopython_signatures:
        want = np.dtype(str(sig.args[0].dtype))
        assert all(numba_dtype(t) == want for t in sig.return_type), sig


def test_norms_with_literal_ords():
    """Constant ords pick their code at compile time (and 'fro')."""
    def f(v, m):
        return (O.norm(v, 1), O.norm(v, 2), O.norm(v, 0), O.norm(m, "fro"), O.norm(m, 1),
                O.norm_axis(m, 2, 0, False), O.norm_axis(m, 1, 1, True), O.norm_axis(m, 0, 0, False),
                O.norm_axis(m, "fro", None, True))
    rng = np.random.default_rng(12)
    v = rng.standard_normal(300)
    v[::7] = 0.0
    m = rng.standard_normal((30, 40)).T
    assert_all_same(numba.njit(**_NJ)(f)(v, m), f(v, m), "literal ords")


def test_norm_errors():
    fn = compiled_norm()
    with pytest.raises(ValueError, match="vector ord"):
        fn(np.ones(3), 3.0)
    with pytest.raises(ValueError, match="singular values"):
        fn(np.ones((2, 3)), 2.0)
    # a literal 2 is refused at compile time, but Numba then retries with a
    # plain int (which may be 1 at run time), so the error comes at run time
    with pytest.raises(ValueError, match="singular values"):
        numba.njit(**_NJ)(lambda x: O.norm(x, 2))(np.ones((2, 3)))


# ---------------------------------------------------------------------------
# transpose

@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_transpose_axes_is_numpys_view(ndim):
    fn = compiled_transpose(ndim)
    for _, x in cases(ndim, F64, seed=9):
        if x.size > 2000:
            continue
        for perm in itertools.permutations(range(ndim)):
            for axes in (perm, tuple(a - ndim for a in perm)):
                got = fn(x, axes)
                want = np.transpose(x, axes)
                assert got.shape == want.shape and got.strides == want.strides
                np.testing.assert_array_equal(got, want, strict=True)
                assert np.shares_memory(got, x)


def test_transpose_axes_errors():
    fn = compiled_transpose(2)
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="repeated axis"):
        fn(x, (1, 1))
    with pytest.raises(AxisError):
        fn(x, (0, 2))
    with pytest.raises(TypingError):
        numba.njit(lambda a: O.transpose_axes(a, (1, 0, 2)))(x)


def test_transpose_writes_through():
    @numba.njit(**_NJ)
    def f(x):
        t = O.transpose_axes(x, (1, 0))
        t[0, 1] = 5.0
        return t
    x = np.zeros((2, 3))
    f(x)
    assert x[1, 0] == 5.0


# ---------------------------------------------------------------------------
# what the compiled versions reject at compile time

@pytest.mark.parametrize("src", [
    "O.sum_axis(x, 0, k)",           # keepdims not a constant
    "O.sum_axis(x.astype(np.int64), 0, False)",
    "O.norm(x, 'nuc')",
    "O.norm_axis(x, 'fro', 0, False)",
    "O.sum_axis(x, 1.5, False)",
])
def test_unsupported_calls_fail_to_compile(src):
    ns = {"O": O, "np": np}
    exec(f"def f(x, k):\n    return {src}\n", ns)
    with pytest.raises(TypingError):
        numba.njit(**_NJ)(ns["f"])(np.ones((2, 3)), True)


def test_plain_functions_are_numpy():
    x = np.random.default_rng(11).standard_normal((4, 5))
    assert_same(O.sum_axis(x, 1, True), np.sum(x, axis=1, keepdims=True), "sum")
    assert_same(O.mean_axis(x, None, False), np.mean(x), "mean")
    assert_same(O.prod_axis(x, 0, False), np.prod(x, axis=0), "prod")
    assert_same(O.max_axis(x, -1, True), np.max(x, axis=-1, keepdims=True), "max")
    assert_same(O.min_axis(x, 0, False), np.min(x, axis=0), "min")
    assert_same(O.cumsum_axis(x, 0), np.cumsum(x, axis=0), "cumsum")
    assert_same(O.norm(x, "fro"), np.linalg.norm(x, "fro"), "norm")
    assert_same(O.norm_axis(x, 1, 0, True), np.linalg.norm(x, 1, 0, True), "norm_axis")
    assert_same(O.transpose_axes(x, (1, 0)), np.transpose(x, (1, 0)), "transpose")
