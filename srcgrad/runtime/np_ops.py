"""NumPy reductions with the arguments Numba's nopython mode lacks.

The normalizer rewrites calls such as ``np.sum(A, axis=1, keepdims=True)``,
``np.mean(A, axis=0)``, ``np.max(A, axis=1)`` or ``np.linalg.norm(v, 1)`` to
the functions of this module, always with positional arguments:

=====================================  ==========================================
``sum_axis(x, axis, keepdims)``        ``np.sum(x, axis=axis, keepdims=keepdims)``
``mean_axis(x, axis, keepdims)``       ``np.mean(...)``
``prod_axis(x, axis, keepdims)``       ``np.prod(...)``
``max_axis(x, axis, keepdims)``        ``np.max(...)``
``min_axis(x, axis, keepdims)``        ``np.min(...)``
``cumsum_axis(x, axis)``               ``np.cumsum(x, axis=axis)``
``norm(x, ord)``                       ``np.linalg.norm(x, ord)``
``norm_axis(x, ord, axis, keepdims)``  ``np.linalg.norm(x, ord, axis, keepdims)``
``transpose_axes(x, axes)``            ``np.transpose(x, axes)``
=====================================  ==========================================

``axis`` is None or an int (negative counts from the end); ``keepdims`` must be
a constant ``True``/``False`` in compiled code (it decides the result's
number of dimensions). Every function is a plain Python function calling
NumPy, which is what runs uncompiled (``jit=False``), and has a
``numba.extending.overload`` used inside ``numba.njit`` code.

The compiled versions return what NumPy returns, bit for bit, for float64
and float32 arrays of 1 to 3 dimensions of any layout. That needs NumPy's
summation order, not a plain loop: NumPy sums a run of elements by pairwise
summation (blocks of 128 with 8 accumulators), and which runs it forms
depends on the array's strides, the axis and the iterator's 8192-element
buffers. ``_sum_all`` and ``_sum_along`` reproduce that (this follows NumPy
2.x's nditer and loops_utils.h.src; see their docstrings). Products,
cumulative sums and sums along an axis that is not the innermost in memory
are sequential in NumPy, and here. The 2-norm and Frobenius norm call BLAS
``dot``, as NumPy does (Numba calls SciPy's BLAS: the same OpenBLAS kernels
give the same result; without SciPy a pairwise sum of squares is used, which
may differ from NumPy in the last bits).

Compiled array results are always C-contiguous (NumPy may return e.g. a
Fortran-ordered sum of a Fortran-ordered array: the same values, other
strides), except ``transpose_axes``, which returns a view as NumPy does.

All kernels work on 3-D strided views (leading length-1 axes added), so each
compiles once per dtype; the wrappers compiled per call site only normalize
the axis and shape the result. Explicit loops keep compile times short
(Numba's own ``np.transpose(x, axes)`` takes ~3 s to compile).
"""

from __future__ import annotations

import importlib.util

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable
from numba.np.numpy_support import as_dtype
from numba.np.unsafe.ndarray import to_fixed_tuple
from numpy.exceptions import AxisError
from numpy.lib.stride_tricks import as_strided

__all__ = ["sum_axis", "mean_axis", "prod_axis", "max_axis", "min_axis", "cumsum_axis",
           "norm", "norm_axis", "transpose_axes", "array", "asarray", "array_copy", "eye_like"]


# ---------------------------------------------------------------------------
# Plain Python versions (jit=False): NumPy itself.

def sum_axis(x, axis=None, keepdims=False):
    """np.sum(x, axis=axis, keepdims=keepdims)"""
    return np.sum(x, axis=axis, keepdims=keepdims)


def mean_axis(x, axis=None, keepdims=False):
    """np.mean(x, axis=axis, keepdims=keepdims)"""
    return np.mean(x, axis=axis, keepdims=keepdims)


def prod_axis(x, axis=None, keepdims=False):
    """np.prod(x, axis=axis, keepdims=keepdims)"""
    return np.prod(x, axis=axis, keepdims=keepdims)


def max_axis(x, axis=None, keepdims=False):
    """np.max(x, axis=axis, keepdims=keepdims)"""
    return np.max(x, axis=axis, keepdims=keepdims)


def min_axis(x, axis=None, keepdims=False):
    """np.min(x, axis=axis, keepdims=keepdims)"""
    return np.min(x, axis=axis, keepdims=keepdims)


def cumsum_axis(x, axis=None):
    """np.cumsum(x, axis=axis)"""
    return np.cumsum(x, axis=axis)


def norm(x, ord=None):
    """np.linalg.norm(x, ord)"""
    return np.linalg.norm(x, ord)


def norm_axis(x, ord=None, axis=None, keepdims=False):
    """np.linalg.norm(x, ord, axis, keepdims)"""
    return np.linalg.norm(x, ord, axis, keepdims)


def transpose_axes(x, axes):
    """np.transpose(x, axes)"""
    return np.transpose(x, axes)


# ---------------------------------------------------------------------------
# Kernels. Every array is handled as a 3-D strided view (leading length-1
# axes added), so each kernel compiles once per dtype whatever the caller's
# ndim and layout. The fold variants are closures over a constant, compiled
# only when used. Numba's compile time grows mostly with the number of
# jitted functions in a call graph (its own passes, more than LLVM's), so
# the kernels are few; the norms transform into a fresh array, as NumPy
# does, and reuse the plain sums.

try:  # the intrinsic behind Numba's as_strided, without its per-call closures
    from numba.np.arrayobj import reshape_unchecked as _view
except ImportError:  # pragma: no cover
    _view = as_strided

_BUFSIZE = 8192     # NPY_BUFSIZE: elements per iterator buffer
_PW_BLOCK = 128     # PW_BLOCKSIZE of NumPy's pairwise sum

_ABS, _SQ = 1, 2            # element transforms for norms: abs(x), x*x
_EMPTY_MSG = "zero-size array to reduction operation which has no identity"
_MUL, _MAX, _MIN = 0, 1, 2   # folds: prod, max, min


# NumPy's iteration order. The reduction iterator (nditer with KEEPORDER and
# DONT_NEGATE_STRIDES) sorts the axes by |stride| (a stable insertion sort in
# which length-1 axes, stride 0, compare as ambiguous), then merges
# neighbouring axes that are contiguous with each other. Negative strides are
# walked as they are (index order). These helpers take shape and strides
# tuples, so they compile once for all dtypes.

@register_jitable
def _korder(shape, strides):
    """The 3 axes, outermost first, in NumPy's iteration order
    (npyiter_find_best_axis_ordering, unrolled for 3 axes)."""
    n0, n1, n2 = shape
    st = (0 if n0 == 1 else abs(strides[0]), 0 if n1 == 1 else abs(strides[1]),
          0 if n2 == 1 else abs(strides[2]))
    q0, q1, q2 = 2, 1, 0  # innermost first
    a = st[q0]
    b = st[q1]
    if a != 0 and b != 0 and a > b:
        q0, q1 = q1, q0
    j = q2
    sj = st[j]
    ipos = 2
    a = st[q0]
    b = st[q1]
    if sj != 0 and b != 0:
        if b > sj:
            ipos = 1
            if a != 0 and a > sj:
                ipos = 0
    elif sj != 0 and a != 0 and a > sj:
        ipos = 0
    if ipos == 1:
        q1, q2 = j, q1
    elif ipos == 0:
        q0, q1, q2 = j, q0, q1
    return q2, q1, q0


@register_jitable
def _coalesce(shape, strides):
    """NumPy's iteration of a whole array: the K-ordered axes with contiguous
    neighbours merged (npyiter_coalesce_axes). Returns (ndim, shape, strides)
    of at most 3 axes, outermost first, the ndim used ones last (the others
    have length 1 and stride 0)."""
    p0, p1, p2 = _korder(shape, strides)
    cn0 = shape[p2]  # innermost first: (cn0, cs0), (cn1, cs1), (cn2, cs2)
    cs0 = 0 if cn0 == 1 else strides[p2]
    cn1 = 1
    cs1 = 0
    cn2 = 1
    cs2 = 0
    d = 1
    for t in range(2):
        k = p1 if t == 0 else p0
        nk = shape[k]
        sk = 0 if nk == 1 else strides[k]
        if d == 1:
            ln = cn0
            ls = cs0
        else:
            ln = cn1
            ls = cs1
        if (ln == 1 and ls == 0) or (nk == 1 and sk == 0) or ls * ln == sk:
            ln = ln * nk
            if ls == 0:
                ls = sk
            if d == 1:
                cn0 = ln
                cs0 = ls
            else:
                cn1 = ln
                cs1 = ls
        elif d == 1:
            cn1 = nk
            cs1 = sk
            d = 2
        else:
            cn2 = nk
            cs2 = sk
            d = 3
    return d, (cn2, cn1, cn0), (cs2, cs1, cs0)


@register_jitable
def _moved_last(shape, strides, ax):
    """Shape and strides with axis ax moved last (the others keep their order)."""
    if ax == 0:
        a1, a2 = 1, 2
    elif ax == 1:
        a1, a2 = 0, 2
    else:
        a1, a2 = 0, 1
    return (shape[a1], shape[a2], shape[ax]), (strides[a1], strides[a2], strides[ax])


@register_jitable
def _inner_axis(shape, strides):
    """The innermost axis of length > 1 in NumPy's order, or -1."""
    p0, p1, p2 = _korder(shape, strides)
    if shape[p2] != 1:
        return p2
    if shape[p1] != 1:
        return p1
    if shape[p0] != 1:
        return p0
    return -1


@register_jitable
def _kshape(shape, strides):
    """Shape and strides permuted to NumPy's iteration order."""
    p0, p1, p2 = _korder(shape, strides)
    return (shape[p0], shape[p1], shape[p2]), (strides[p0], strides[p1], strides[p2])


# ---------------------------------------------------------------------------
# Pairwise summation, exactly NumPy's @TYPE@_pairwise_sum.

@register_jitable
def _as_a(buf):
    """A 1-D C array typed as 'A' layout, so that _pw compiles once per dtype."""
    return _view(buf, buf.shape, buf.strides)


@register_jitable
def _leaf(a, s, n, z):
    """Sum of a[s:s+n] for n <= 128, as NumPy's pairwise_sum; z: a typed +0.0."""
    if n < 8:
        res = -z  # NumPy starts at -0.0 so that a sum of -0.0s stays -0.0
        for i in range(s, s + n):
            res += a[i]
        return res
    r0 = a[s]
    r1 = a[s + 1]
    r2 = a[s + 2]
    r3 = a[s + 3]
    r4 = a[s + 4]
    r5 = a[s + 5]
    r6 = a[s + 6]
    r7 = a[s + 7]
    m = s + n - n % 8
    i = s + 8
    while i < m:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < s + n:
        res += a[i]
        i += 1
    return res


@register_jitable
def _pw(a, s, n, z):
    """NumPy's pairwise sum of a[s:s+n] (a: 1-D, any strides): blocks of at
    most 128 summed by _leaf, halves split at a multiple of 8. The recursion
    runs on an explicit stack."""
    if n <= _PW_BLOCK:
        return _leaf(a, s, n, z)
    todo = np.empty(128, np.int64)  # per level: start and length of the right half
    left = np.empty(64, a.dtype)    # per level: sum of the left half
    top = -1
    cs = s
    cn = n
    while True:
        while cn > _PW_BLOCK:
            n2 = cn // 2
            n2 -= n2 % 8
            top += 1
            todo[2 * top] = cs + n2
            todo[2 * top + 1] = -(cn - n2)  # negative: left half not summed yet
            cn = n2
        res = _leaf(a, cs, cn, z)
        while top >= 0 and todo[2 * top + 1] > 0:
            res = left[top] + res
            top -= 1
        if top < 0:
            return res
        left[top] = res
        cs = todo[2 * top]
        cn = -todo[2 * top + 1]
        todo[2 * top + 1] = cn


# ---------------------------------------------------------------------------
# Sums.

@register_jitable
def _sum_all(v, z):
    """np.sum(v) of a 3-D view, in NumPy's order (z: a typed +0.0).

    NumPy adds to the result (initialised to 0) the pairwise sum of each run
    the iterator hands to the inner loop. After coalescing, a single axis is
    one run (however long: GROWINNER). Otherwise the iterator weighs running
    the innermost axis as is against copying into its buffer: it buffers
    unless the innermost axis has more than 4096 elements, and then the runs
    are buffer fills: whole multiples of the 'core' (the axes below the
    chosen outer axis) up to 8192 elements, never crossing the outer axis
    (port of npyiter_find_buffering_setup and npyiter_copy_to_buffers)."""
    acc = z
    if v.size == 0:
        return acc
    d, cshape, cstrides = _coalesce(v.shape, v.strides)
    w = _view(v, cshape, cstrides)
    a, b, c = cshape  # c innermost
    if d == 1:
        return acc + _pw(w[0, 0], 0, c, z)
    # npyiter_find_buffering_setup. Operand 0 is the output (all strides 0:
    # it never adds to the cost), operand 1 the input, which after
    # coalescing needs a buffer for any outer axis (cost 2).
    cost = 1
    size = c
    best_dim = 0
    best_cost = 1
    best_size = size
    best_core = 1
    for idim in range(1, d):
        if size >= _BUFSIZE and cost > 1:
            break
        cost = 2
        core = size
        size *= b if idim == 1 else a
        bufsize = size
        if size > _BUFSIZE:
            bufsize = _BUFSIZE
        if cost * best_size <= best_cost * bufsize:
            best_cost = cost
            best_core = core
            best_size = size
            best_dim = idim
    if best_dim == 0:
        # unbuffered: one run per innermost line
        for i in range(a):
            for j in range(b):
                acc = acc + _pw(w[i, j], 0, c, z)
        return acc
    bufsize = best_size
    if _BUFSIZE < best_size:
        bufsize = best_core * (_BUFSIZE // best_core)
    buf = _as_a(np.empty(bufsize, v.dtype))
    if best_dim == 1:
        step_j = bufsize // c   # rows per buffer, within each i
        step_i = 1
    else:
        step_j = b
        step_i = bufsize // (b * c)  # planes per buffer
    i0 = 0
    while i0 < a:
        i1 = min(i0 + step_i, a)
        j0 = 0
        while j0 < b:
            j1 = min(j0 + step_j, b)
            m = 0
            for i in range(i0, i1):
                for j in range(j0, j1):
                    for k in range(c):
                        buf[m] = w[i, j, k]
                        m += 1
            acc = acc + _pw(buf, 0, m, z)
            j0 = j1
        i0 = i1
    return acc


@register_jitable
def _sum_along(v, ax, z):
    """np.sum(v, axis=ax) of a 3-D view, as a C-contiguous 2-D array of the
    other two axes.

    When the reduced axis is the innermost one in NumPy's order, each result
    is 0 + the pairwise sum of its line; otherwise NumPy adds the slices one
    after the other, so each result is a sequential sum."""
    ushape, ustrides = _moved_last(v.shape, v.strides, ax)
    u = _view(v, ushape, ustrides)
    n1, n2, m = ushape
    out = np.empty((n1, n2), v.dtype)
    if _inner_axis(v.shape, v.strides) == ax:
        if m < 8:  # _leaf's short case, without a view per line
            for i in range(n1):
                for j in range(n2):
                    res = -z
                    for k in range(m):
                        res += u[i, j, k]
                    out[i, j] = z + res
        else:
            for i in range(n1):
                for j in range(n2):
                    out[i, j] = z + _pw(u[i, j], 0, m, z)
        return out
    for i in range(n1):
        for j in range(n2):
            out[i, j] = z
    for k in range(m):
        for i in range(n1):
            for j in range(n2):
                out[i, j] += u[i, j, k]
    return out


@register_jitable
def _fresh_buf(v, tr):
    """abs(v) (tr=_ABS) or v*v (tr=_SQ), flat in v's K order (1-D, C)."""
    kshape, kstrides = _kshape(v.shape, v.strides)
    w = _view(v, kshape, kstrides)
    buf = np.empty(v.size, v.dtype)
    m = 0
    for i in range(kshape[0]):
        for j in range(kshape[1]):
            for k in range(kshape[2]):
                x = w[i, j, k]
                buf[m] = abs(x) if tr == _ABS else x * x
                m += 1
    return buf


@register_jitable
def _fresh(v, tr):
    """abs(v) (tr=_ABS) or v*v (tr=_SQ) as NumPy allocates a ufunc's result:
    contiguous in v's K order, seen here with v's axes (a 3-D view). NumPy's
    norms reduce such arrays; reducing the same layout repeats their order."""
    buf = _fresh_buf(v, tr)
    # strides of buf in the K order, then put back on v's axes
    p0, p1, p2 = _korder(v.shape, v.strides)
    b, c = v.shape[p1], v.shape[p2]
    isz = v.itemsize
    s0 = isz if p2 == 0 else (c * isz if p1 == 0 else b * c * isz)
    s1 = isz if p2 == 1 else (c * isz if p1 == 1 else b * c * isz)
    s2 = isz if p2 == 2 else (c * isz if p1 == 2 else b * c * isz)
    return _view(buf, v.shape, (s0, s1, s2))


# ---------------------------------------------------------------------------
# Products, maxima and minima. NumPy forms products sequentially in its
# iteration order; maxima and minima do not depend on the order (but for the
# sign of a zero among equal zeros). np.maximum/np.minimum propagate NaN.

def _make_fold(OP):
    @register_jitable
    def fold_all(v, init):
        """OP over all of v, in NumPy's order: from init for a product, from
        the first element for max/min (v must not be empty then)."""
        if OP != _MUL and v.size == 0:
            raise ValueError(_EMPTY_MSG)
        kshape, kstrides = _kshape(v.shape, v.strides)
        w = _view(v, kshape, kstrides)
        acc = init
        first = OP != _MUL
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                for k in range(w.shape[2]):
                    x = w[i, j, k]
                    if first:
                        acc = x
                        first = False
                    elif OP == _MUL:
                        acc = acc * x
                    elif OP == _MAX:
                        if x > acc or x != x:
                            acc = x
                    elif x < acc or x != x:
                        acc = x
        return acc

    @register_jitable
    def fold_along(v, ax, init):
        """OP along axis ax of v: a C-contiguous 2-D array of the other axes."""
        ushape, ustrides = _moved_last(v.shape, v.strides, ax)
        u = _view(v, ushape, ustrides)
        n1, n2, m = ushape
        if OP != _MUL and m == 0:
            raise ValueError(_EMPTY_MSG)
        out = np.empty((n1, n2), v.dtype)
        if _inner_axis(v.shape, v.strides) == ax:
            # the same sequence per result, line by line (memory order)
            for i in range(n1):
                for j in range(n2):
                    if OP == _MUL:
                        acc = init
                        k0 = 0
                    else:
                        acc = u[i, j, 0]
                        k0 = 1
                    for k in range(k0, m):
                        x = u[i, j, k]
                        if OP == _MUL:
                            acc = acc * x
                        elif OP == _MAX:
                            if x > acc or x != x:
                                acc = x
                        elif x < acc or x != x:
                            acc = x
                    out[i, j] = acc
            return out
        k0 = 0
        if OP == _MUL:
            for i in range(n1):
                for j in range(n2):
                    out[i, j] = init
        else:
            k0 = 1
            for i in range(n1):
                for j in range(n2):
                    out[i, j] = u[i, j, 0]
        for k in range(k0, m):
            for i in range(n1):
                for j in range(n2):
                    x = u[i, j, k]
                    if OP == _MUL:
                        out[i, j] *= x
                    elif OP == _MAX:
                        if x > out[i, j] or x != x:
                            out[i, j] = x
                    elif x < out[i, j] or x != x:
                        out[i, j] = x
        return out

    return fold_all, fold_along


_prod_all, _prod_along = _make_fold(_MUL)
_max_all, _max_along = _make_fold(_MAX)
_min_all, _min_along = _make_fold(_MIN)


# ---------------------------------------------------------------------------
# Shapes: x as a 3-D view, and the (ndim - 1)-D result from the kernels' 2-D one.

@register_jitable
def _pad1(x):
    return _view(x, (1, 1, x.shape[0]), (0, 0, x.strides[0]))


@register_jitable
def _pad2(x):
    return _view(x, (1, x.shape[0], x.shape[1]), (0, x.strides[0], x.strides[1]))


@register_jitable
def _pad3(x):
    return _view(x, x.shape, x.strides)


_PAD = {1: _pad1, 2: _pad2, 3: _pad3}


@register_jitable
def _axis_index(axis, ndim):
    if axis < -ndim or axis >= ndim:
        raise AxisError("axis is out of bounds for array of this dimension")
    return axis + ndim if axis < 0 else axis


@register_jitable
def _shape1(out, ax):
    return out[0, 0]


@register_jitable
def _shape1_keep(out, ax):
    return _view(out, (1,), (out.itemsize,))


@register_jitable
def _shape2(out, ax):
    return out[0]


@register_jitable
def _shape2_keep(out, ax):
    # out is C-contiguous (1, n); keepdims puts the 1 at axis ax
    n = out.shape[1]
    if ax == 0:
        return _view(out, (1, n), (n * out.itemsize, out.itemsize))
    return _view(out, (n, 1), (out.itemsize, out.itemsize))


@register_jitable
def _shape3(out, ax):
    return out


@register_jitable
def _shape3_keep(out, ax):
    n1, n2 = out.shape
    isz = out.itemsize
    if ax == 0:
        return _view(out, (1, n1, n2), (n1 * n2 * isz, n2 * isz, isz))
    if ax == 1:
        return _view(out, (n1, 1, n2), (n2 * isz, n2 * isz, isz))
    return _view(out, (n1, n2, 1), (n2 * isz, isz, isz))


_SHAPE = {(1, False): _shape1, (1, True): _shape1_keep, (2, False): _shape2,
          (2, True): _shape2_keep, (3, False): _shape3, (3, True): _shape3_keep}


@register_jitable
def _full1(value, x):
    out = np.empty((1, 1), x.dtype)
    out[0, 0] = value
    return _view(out, (1,), (out.itemsize,))


@register_jitable
def _full2(value, x):
    out = np.empty((1, 1), x.dtype)
    out[0, 0] = value
    return out


@register_jitable
def _full3(value, x):
    out = np.empty((1, 1), x.dtype)
    out[0, 0] = value
    return _view(out, (1, 1, 1), (out.itemsize, out.itemsize, out.itemsize))


_FULL = {1: _full1, 2: _full2, 3: _full3}


@register_jitable
def _scalar(value, x):
    return value


# ---------------------------------------------------------------------------
# Typing helpers.

def _float_array(x, name):
    if not isinstance(x, types.Array) or x.dtype not in (types.float64, types.float32):
        raise TypingError(f"srcgrad.runtime.np_ops.{name}: x must be a float64 or float32 array, got {x}")
    if not 1 <= x.ndim <= 3:
        raise TypingError(f"srcgrad.runtime.np_ops.{name}: arrays of 1 to 3 dimensions are supported, got {x}")


def _is_none(t):
    if t is None or isinstance(t, types.NoneType):
        return True
    return isinstance(t, types.Omitted) and t.value is None


def _axis_kind(axis, name):
    """None for axis=None, else 'int'."""
    if _is_none(axis):
        return None
    if isinstance(axis, types.Omitted):
        axis = types.literal(axis.value)
    if isinstance(axis, types.Integer) or isinstance(axis, int):
        return "int"
    raise TypingError(f"srcgrad.runtime.np_ops.{name}: axis must be None or an int, got {axis}")


def _literal_bool(keepdims, name):
    if isinstance(keepdims, bool):
        return keepdims
    if isinstance(keepdims, types.Omitted):
        return bool(keepdims.value)
    if isinstance(keepdims, types.BooleanLiteral):
        return keepdims.literal_value
    raise TypingError(f"srcgrad.runtime.np_ops.{name}: keepdims must be a constant True or False, "
                      f"got {keepdims}")


def _scalar_type(x):
    return as_dtype(x.dtype).type


# ---------------------------------------------------------------------------
# Overloads of the reductions.

@register_jitable
def _mean_all(v, z):
    # np.mean: the sum divided by the count as float64 (the count is an
    # np.intp), then cast back to the dtype
    n = v.size
    s = _sum_all(v, z)
    out = np.empty((1, 1), v.dtype)
    out[0, 0] = np.float64(s) / n if n > 0 else np.nan
    return out[0, 0]


@register_jitable
def _mean_along(v, ax, z):
    out = _sum_along(v, ax, z)
    n = v.shape[ax]
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.float64(out[i, j]) / n if n > 0 else np.nan
    return out


_KERNELS = {  # kind: (over all, along an axis, initial value)
    "sum": (_sum_all, _sum_along, 0.0),
    "mean": (_mean_all, _mean_along, 0.0),
    "prod": (_prod_all, _prod_along, 1.0),
    "max": (_max_all, _max_along, 0.0),
    "min": (_min_all, _min_along, 0.0),
}


def _reduction(func, name, kind):
    red_all, red_along, init = _KERNELS[kind]

    @overload(func, prefer_literal=True)
    def _ov(x, axis=None, keepdims=False):
        _float_array(x, name)
        keep = _literal_bool(keepdims, name)
        nd = x.ndim
        T = _scalar_type(x)
        pad = _PAD[nd]
        if _axis_kind(axis, name) is None:
            full = _FULL[nd] if keep else _scalar

            def impl(x, axis=None, keepdims=False):
                return full(red_all(pad(x), T(init)), x)
            return impl
        shape = _SHAPE[(nd, keep)]
        off = 3 - nd

        def impl(x, axis=None, keepdims=False):
            ax = _axis_index(axis + 0, nd)  # (+ 0: one compile for all literal axes)
            return shape(red_along(pad(x), ax + off, T(init)), ax)
        return impl
    return _ov


_reduction(sum_axis, "sum_axis", "sum")
_reduction(mean_axis, "mean_axis", "mean")
_reduction(prod_axis, "prod_axis", "prod")
_reduction(max_axis, "max_axis", "max")
_reduction(min_axis, "min_axis", "min")


# ---------------------------------------------------------------------------
# cumsum: np.add.accumulate, sequential along the axis (the first element is
# copied, not added to 0); axis=None runs over x in C order.

@register_jitable
def _cumsum_along(v, ax, out3):
    ushape, ustrides = _moved_last(v.shape, v.strides, ax)
    u = _view(v, ushape, ustrides)
    oshape, ostrides = _moved_last(out3.shape, out3.strides, ax)
    o = _view(out3, oshape, ostrides)
    n1, n2, m = ushape
    if m == 0:
        return
    if _inner_axis(v.shape, v.strides) == ax:  # line by line (memory order)
        for i in range(n1):
            for j in range(n2):
                acc = u[i, j, 0]
                o[i, j, 0] = acc
                for k in range(1, m):
                    acc = acc + u[i, j, k]
                    o[i, j, k] = acc
        return
    for i in range(n1):
        for j in range(n2):
            o[i, j, 0] = u[i, j, 0]
    for k in range(1, m):
        for i in range(n1):
            for j in range(n2):
                o[i, j, k] = o[i, j, k - 1] + u[i, j, k]


@register_jitable
def _cumsum_flat(v, out):
    m = 0
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            for k in range(v.shape[2]):
                if m == 0:
                    out[0] = v[i, j, k]
                else:
                    out[m] = out[m - 1] + v[i, j, k]
                m += 1


@overload(cumsum_axis)
def _ov_cumsum(x, axis=None):
    _float_array(x, "cumsum_axis")
    nd = x.ndim
    pad = _PAD[nd]
    if _axis_kind(axis, "cumsum_axis") is None:
        def impl(x, axis=None):
            out = np.empty(x.size, x.dtype)
            _cumsum_flat(pad(x), out)
            return out
        return impl
    off = 3 - nd

    def impl(x, axis=None):
        ax = _axis_index(axis + 0, nd)  # (+ 0: one compile for all literal axes)
        out = np.empty(x.shape, x.dtype)
        _cumsum_along(pad(x), ax + off, pad(out))
        return out
    return impl


# ---------------------------------------------------------------------------
# Norms, as np.linalg.norm computes them:
#   ord None (any ndim), 'fro' (2-D), 2 (1-D): sqrt(dot(r, r)), r = x.ravel('K')
#   vectors: 1 -> add.reduce(abs(x)), inf/-inf -> max/min of abs(x),
#            0 -> count of nonzeros, None/2 along an axis -> sqrt(add.reduce(x*x))
#   matrices: 1 -> max over columns of the column sums of abs(x),
#             inf -> max over rows of the row sums; -1/-inf the same with min.
# Not supported: the matrix 2 and -2 norms (singular values), 'nuc', and
# vector ords other than 0, 1, 2, inf and -inf.

if importlib.util.find_spec("scipy") is not None:  # Numba's np.dot needs SciPy's BLAS
    @register_jitable
    def _dot_self(r, z):
        return np.dot(r, r)
else:  # pragma: no cover
    @register_jitable
    def _dot_self(r, z):
        sq = np.empty(r.size, r.dtype)
        for i in range(r.size):
            sq[i] = r[i] * r[i]
        return z + _pw(_as_a(sq), 0, r.size, z)


@register_jitable
def _norm2(v, o, z):
    """sqrt(dot(r, r)) with r = v.ravel('K'): BLAS dot, as NumPy."""
    d, cshape, cstrides = _coalesce(v.shape, v.strides)
    if d == 1 and cstrides[2] == v.itemsize:
        r = np.ascontiguousarray(_view(v, cshape, cstrides)[0, 0])
    else:
        kshape, kstrides = _kshape(v.shape, v.strides)
        w = _view(v, kshape, kstrides)
        r = np.empty(v.size, v.dtype)
        m = 0
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                for k in range(w.shape[2]):
                    r[m] = w[i, j, k]
                    m += 1
    return np.sqrt(_dot_self(r, z))


@register_jitable
def _norm1(v, o, z):
    # add.reduce(abs(x)) of a whole (fresh, contiguous) array: one pairwise run
    return z + _pw(_as_a(_fresh_buf(v, _ABS)), 0, v.size, z)


@register_jitable
def _count_all(v, o, z):
    """np.linalg.norm(x, 0): the count of nonzeros (exact in any order)."""
    c = 0
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            for k in range(v.shape[2]):
                if v[i, j, k] != 0:
                    c += 1
    out = np.empty((1, 1), v.dtype)
    out[0, 0] = c
    return out[0, 0]


@register_jitable
def _vnorm(v, o, z):
    """np.linalg.norm(x, o) of a vector x (padded to the 3-D view v), o a float."""
    if o == 2:
        return _norm2(v, o, z)
    if o == 1:
        return _norm1(v, o, z)
    if o == 0:
        return _count_all(v, o, z)
    if o == np.inf or o == -np.inf:
        y = _fresh(v, _ABS)
        return _max_all(y, z) if o > 0 else _min_all(y, z)
    raise ValueError("srcgrad.runtime.np_ops.norm: a vector ord must be None, 0, 1, 2, inf or -inf")


@register_jitable
def _mnorm1(v, o, z):
    """np.linalg.norm(x, 1) of a matrix: the largest column sum of abs(x)."""
    s = _sum_along(_fresh(v, _ABS), 1, z)
    return _max_all(_view(s, (1, 1, s.size), (0, 0, s.itemsize)), z)


@register_jitable
def _mnorm(v, o, z):
    """np.linalg.norm(x, o) of a matrix x (padded to the 3-D view v), o a float:
    add.reduce(abs(x), axis=0).max() for ord=1, axis=1 for ord=inf."""
    if o == 1 or o == -1:
        s = _sum_along(_fresh(v, _ABS), 1, z)
    elif o == np.inf or o == -np.inf:
        s = _sum_along(_fresh(v, _ABS), 2, z)
    else:
        raise ValueError("srcgrad.runtime.np_ops.norm: a matrix ord must be None, 'fro', 1, -1, inf or -inf "
                         "(2, -2 and 'nuc' need singular values: not supported)")
    s3 = _view(s, (1, 1, s.size), (0, 0, s.itemsize))
    return _max_all(s3, z) if o > 0 else _min_all(s3, z)


@register_jitable
def _count_along(v, ax, o, z):
    ushape, ustrides = _moved_last(v.shape, v.strides, ax)
    u = _view(v, ushape, ustrides)
    n1, n2, m = ushape
    out = np.empty((n1, n2), v.dtype)
    for i in range(n1):
        for j in range(n2):
            c = 0
            for k in range(m):
                if u[i, j, k] != 0:
                    c += 1
            out[i, j] = c
    return out


@register_jitable
def _vnorm2_along(v, ax, o, z):
    s = _sum_along(_fresh(v, _SQ), ax, z)
    for i in range(s.shape[0]):
        for j in range(s.shape[1]):
            s[i, j] = np.sqrt(s[i, j])
    return s


@register_jitable
def _vnorm1_along(v, ax, o, z):
    return _sum_along(_fresh(v, _ABS), ax, z)


@register_jitable
def _vnorm_along(v, ax, o, z):
    """np.linalg.norm(x, o, axis=ax) (2-D result of the other axes), o a float."""
    if o == 2:
        return _vnorm2_along(v, ax, o, z)
    if o == 1:
        return _vnorm1_along(v, ax, o, z)
    if o == 0:
        return _count_along(v, ax, o, z)
    if o == np.inf or o == -np.inf:
        y = _fresh(v, _ABS)
        return _max_along(y, ax, z) if o > 0 else _min_along(y, ax, z)
    raise ValueError("srcgrad.runtime.np_ops.norm_axis: a vector ord must be None, 0, 1, 2, inf or -inf")


def _ord_kind(ord, name):
    """None, 'fro', an int (a literal ord), or 'num' (a number known at run time)."""
    if _is_none(ord):
        return None
    if isinstance(ord, types.Omitted):
        ord = types.literal(ord.value)
    if isinstance(ord, types.StringLiteral):
        if ord.literal_value in ("fro", "f"):
            return "fro"
        raise TypingError(f"srcgrad.runtime.np_ops.{name}: ord={ord.literal_value!r} is not supported")
    if isinstance(ord, types.IntegerLiteral) and not isinstance(ord, types.BooleanLiteral):
        return ord.literal_value
    if isinstance(ord, (types.Integer, types.Float)) and not isinstance(ord, types.Boolean):
        return "num"
    raise TypingError(f"srcgrad.runtime.np_ops.{name}: ord must be None, 'fro' or a number, got {ord}")


def _norm_all_impl(nd, kind, name):
    """A register_jitable f(v, o, z) for np.linalg.norm(x, o) with axis=None."""
    if kind is None or (kind == "fro" and nd == 2) or (kind == 2 and nd == 1):
        return _norm2
    if kind == "fro":
        raise TypingError(f"srcgrad.runtime.np_ops.{name}: ord='fro' needs a 2-D array")
    if nd == 1:
        return {1: _norm1, 0: _count_all}.get(kind, _vnorm)
    if nd == 2:
        if kind in (2, -2):
            raise TypingError(f"srcgrad.runtime.np_ops.{name}: the matrix {kind}-norm (singular values) "
                              "is not supported")
        return _mnorm1 if kind == 1 else _mnorm
    raise TypingError(f"srcgrad.runtime.np_ops.{name}: ord={kind} needs a 1-D or 2-D array "
                      "(ord=None gives the 2-norm of all elements)")


@overload(norm, prefer_literal=True)
def _ov_norm(x, ord=None):
    _float_array(x, "norm")
    nd = x.ndim
    T = _scalar_type(x)
    pad = _PAD[nd]
    kind = _ord_kind(ord, "norm")
    f = _norm_all_impl(nd, kind, "norm")
    # the kernels take ord as a float64 (one compile for every ord)
    if kind is None or kind == "fro":
        def impl(x, ord=None):
            return f(pad(x), 0.0, T(0.0))
    else:
        def impl(x, ord=None):
            return f(pad(x), np.float64(ord), T(0.0))
    return impl


@overload(norm_axis, prefer_literal=True)
def _ov_norm_axis(x, ord=None, axis=None, keepdims=False):
    name = "norm_axis"
    _float_array(x, name)
    keep = _literal_bool(keepdims, name)
    nd = x.ndim
    T = _scalar_type(x)
    pad = _PAD[nd]
    kind = _ord_kind(ord, name)
    if _axis_kind(axis, name) is None:
        f = _norm_all_impl(nd, kind, name)
        if keep:
            full = _FULL[nd]
        else:
            full = _scalar
        if kind is None or kind == "fro":
            def impl(x, ord=None, axis=None, keepdims=False):
                return full(f(pad(x), 0.0, T(0.0)), x)
        else:
            def impl(x, ord=None, axis=None, keepdims=False):
                return full(f(pad(x), np.float64(ord), T(0.0)), x)
        return impl
    if kind == "fro":
        raise TypingError(f"srcgrad.runtime.np_ops.{name}: ord='fro' is a matrix norm (it needs two axes)")
    f = {None: _vnorm2_along, 2: _vnorm2_along, 1: _vnorm1_along, 0: _count_along}.get(kind, _vnorm_along)
    shape = _SHAPE[(nd, keep)]
    off = 3 - nd

    if kind is None:
        def impl(x, ord=None, axis=None, keepdims=False):
            ax = _axis_index(axis + 0, nd)  # (+ 0: one compile for all literal axes)
            return shape(f(pad(x), ax + off, 2.0, T(0.0)), ax)
    else:
        def impl(x, ord=None, axis=None, keepdims=False):
            ax = _axis_index(axis + 0, nd)  # (+ 0: one compile for all literal axes)
            return shape(f(pad(x), ax + off, np.float64(ord), T(0.0)), ax)
    return impl


# ---------------------------------------------------------------------------
# transpose with explicit axes: a strided view. (Numba's np.transpose(x, axes)
# gives the same, but takes ~3 s to compile.)

@register_jitable
def _check_axes(axes, nd):
    if len(axes) != nd:
        raise ValueError("axes don't match array")


@overload(transpose_axes)
def _ov_transpose(x, axes):
    if not isinstance(x, types.Array):
        raise TypingError(f"srcgrad.runtime.np_ops.transpose_axes: x must be an array, got {x}")
    nd = x.ndim
    if isinstance(axes, types.UniTuple) and isinstance(axes.dtype, types.Integer):
        if axes.count != nd:
            raise TypingError("srcgrad.runtime.np_ops.transpose_axes: axes don't match array")
    elif not (isinstance(axes, (types.List, types.Array)) and isinstance(axes.dtype, types.Integer)):
        raise TypingError(f"srcgrad.runtime.np_ops.transpose_axes: axes must be a tuple of {nd} ints, got {axes}")

    if nd == 1:
        def impl(x, axes):
            _check_axes(axes, 1)
            _axis_index(axes[0], 1)
            return _view(x, x.shape, x.strides)
    elif nd == 2:
        def impl(x, axes):
            _check_axes(axes, 2)
            a0 = _axis_index(axes[0], 2)
            a1 = _axis_index(axes[1], 2)
            if a0 == a1:
                raise ValueError("repeated axis in transpose")
            return _view(x, (x.shape[a0], x.shape[a1]), (x.strides[a0], x.strides[a1]))
    elif nd == 3:
        def impl(x, axes):
            _check_axes(axes, 3)
            a0 = _axis_index(axes[0], 3)
            a1 = _axis_index(axes[1], 3)
            a2 = _axis_index(axes[2], 3)
            if a0 == a1 or a0 == a2 or a1 == a2:
                raise ValueError("repeated axis in transpose")
            return _view(x, (x.shape[a0], x.shape[a1], x.shape[a2]),
                         (x.strides[a0], x.strides[a1], x.strides[a2]))
    else:
        def impl(x, axes):
            _check_axes(axes, nd)
            shape = np.empty(nd, np.int64)
            strides = np.empty(nd, np.int64)
            seen = np.zeros(nd, np.bool_)
            for k in range(nd):
                a = _axis_index(axes[k], nd)
                if seen[a]:
                    raise ValueError("repeated axis in transpose")
                seen[a] = True
                shape[k] = x.shape[a]
                strides[k] = x.strides[a]
            return _view(x, to_fixed_tuple(shape, nd), to_fixed_tuple(strides, nd))
    return impl


# ---------------------------------------------------------------------------
# Arrays from literals
# ---------------------------------------------------------------------------

def array(seq, dtype=None):
    """``np.array(seq, dtype)`` for a tuple of scalars (a 1-D array) or of arrays of
    one shape (stacked along a new first axis): what the normalizer writes for
    ``np.array([a, b, c])`` and ``np.array([[a, b], [c, d]])`` (rows first). Numba's
    own np.array takes no tuple of arrays."""
    return np.array(seq, dtype=dtype)


@overload(array)
def _ov_array(seq, dtype=None):
    if not isinstance(seq, types.BaseTuple) or len(seq) == 0:
        raise TypingError(f"srcgrad.runtime.np_ops.array: expected a tuple of values, got {seq}")
    cast = not _is_none(dtype)
    if all(isinstance(t, types.Number) or isinstance(t, types.Boolean) for t in seq):
        if cast:
            return lambda seq, dtype=None: np.array(seq).astype(dtype)
        return lambda seq, dtype=None: np.array(seq)
    first = seq[0]
    if not all(isinstance(t, types.Array) and t.ndim == first.ndim for t in seq):
        raise TypingError("srcgrad.runtime.np_ops.array: the elements must be all scalars or all "
                          f"arrays of one number of dimensions, got {seq}")
    if not all(t.dtype == first.dtype for t in seq):
        raise TypingError(f"srcgrad.runtime.np_ops.array: arrays of different dtypes, got {seq}")
    if cast:
        return lambda seq, dtype=None: np.stack(seq).astype(dtype)
    return lambda seq, dtype=None: np.stack(seq)


def eye_like(a):
    """The identity matrix of square matrix `a`'s shape and dtype (np.linalg.matrix_power's
    zeroth power)."""
    return np.eye(a.shape[0], dtype=a.dtype)


@overload(eye_like)
def _ov_eye_like(a):
    if not (isinstance(a, types.Array) and a.ndim == 2):
        raise TypingError(f"srcgrad.runtime.np_ops.eye_like: expected a matrix, got {a}")
    dt = as_dtype(a.dtype)

    def impl(a):
        out = np.zeros((a.shape[0], a.shape[0]), dt)
        for i in range(a.shape[0]):
            out[i, i] = 1
        return out
    return impl


def asarray(x, dtype=None):
    """``np.asarray(x, dtype)`` for a value (not a literal): x itself when it is an
    array of that dtype, a 0-d array for a scalar."""
    return np.asarray(x, dtype=dtype)


def array_copy(x, dtype=None):
    """``np.array(x, dtype)`` for a value (not a literal): always a new array."""
    return np.array(x, dtype=dtype)


def _asarray_overload(x, dtype, copy):
    cast = not _is_none(dtype)
    if isinstance(x, types.Array):
        if cast:
            return lambda x, dtype=None: x.astype(dtype)
        if copy:
            return lambda x, dtype=None: x.copy()
        return lambda x, dtype=None: x
    if isinstance(x, (types.Number, types.Boolean)):
        dt = as_dtype(x)
        if cast:
            def impl_cast(x, dtype=None):
                out = np.empty((), dt)
                out[()] = x
                return out.astype(dtype)
            return impl_cast

        def impl(x, dtype=None):
            out = np.empty((), dt)
            out[()] = x
            return out
        return impl
    raise TypingError(f"srcgrad.runtime.np_ops.asarray: expected an array or a number, got {x}")


@overload(asarray)
def _ov_asarray(x, dtype=None):
    return _asarray_overload(x, dtype, False)


@overload(array_copy)
def _ov_array_copy(x, dtype=None):
    return _asarray_overload(x, dtype, True)
