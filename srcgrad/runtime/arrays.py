"""Runtime helpers for the adjoints of NumPy array operations.

Generated adjoint code calls these for array derivative rules. Every public
function is a plain Python/NumPy function (used when the adjoint runs with
``jit=False``) with a Numba implementation registered for it: a
``numba.extending.overload`` returning an implementation specialized on the
argument types (scalar or array, ``None`` or int axis, ndim, dtype). So the
same generated source runs compiled and uncompiled.

Arguments: ``g`` is the adjoint (cotangent) of the operation's result; ``x``,
``a``, ``b`` its inputs; ``ans`` its result; ``like`` a target shape/dtype.
Scalars are Python/NumPy floats; arrays float64 or float32 of any ndim and
layout (C, F, or non-contiguous views).

Results
    For an array input: a new C-contiguous array in that input's dtype (as JAX
    gives cotangents the primal's dtype), computed in float64 and rounded
    once (matrix products: in float32 when all operands are float32).
    ``transpose_grad`` and ``reshape_grad`` may return views of ``g``; treat
    every result as read-only and merge it with ``accum``. The elementwise
    rules return the full broadcast shape, in ``g``'s dtype (float64 when
    ``g`` is a scalar); a scalar-only call returns a float.

Conventions (checked against ``jax.vjp`` of the ``jax.numpy`` function)
    * max/min reductions: ``(g / count) * (x == ans)`` per lane, i.e. split
      equally among ties; a lane holding NaN gets NaN everywhere.
    * maximum/minimum: 0.5 to each side at a tie; 0 to both where either is NaN.
    * clip = ``minimum(maximum(x, lo), hi)``: 0.5 at ``x == lo`` and at
      ``x == hi``, 0.25 at ``lo == x == hi``, 0 if ``lo > hi`` or x is NaN.
    * abs: ``g if x >= 0 else -g`` (slope +1 at 0 and -0.0, -1 at NaN).
    * prod: products of the other entries (exclusive prefix/suffix products,
      no division), so exact when x holds zeros.
    * norm (L2/Frobenius): ``x * (g / ans)``, NaN everywhere at x == 0 (JAX
      too); ord=1: abs's rule.
    * Masks multiply ``g`` as JAX does (an infinite ``g`` gives NaN where the
      mask is 0); ``where`` selects (0 stays 0 whatever ``g`` holds).

Compile time
    Numba compiles every helper a call reaches as a unit and re-optimizes the
    linked callees in each caller, so the work sits in a few small loop
    kernels over flat C-contiguous data, with shapes and strides passed as
    ``intp`` arrays: each kernel compiles once per dtype combination whatever
    the ndim or layout of the caller's arrays. Broadcasting is done by
    strides (``_plan``: one loop plan for all elementwise rules, ``accum`` and
    ``unbroadcast``), never materialized; the reductions see x as
    (pre, n, post) lanes. Avoided on purpose (each costs Numba 0.5-5 s):
    array expressions, ``np.where``/``np.broadcast_*``, slice assignment,
    ``inline="always"``. Non-contiguous inputs are copied once (``.copy()``,
    the cheapest copy to compile). Only a ``ValueError`` is raised at run
    time; argument types that cannot work raise a ``TypingError`` when the
    caller compiles.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable
from numba.np.numpy_support import as_dtype
from numba.np.unsafe.ndarray import to_fixed_tuple

__all__ = [
    "unbroadcast", "empty_adjoint", "ensure", "accum",
    "sum_grad", "mean_grad", "prod_grad", "max_grad", "min_grad", "cumsum_grad",
    "matmul_grad_a", "matmul_grad_b", "dot_grad_a", "dot_grad_b", "matmul_acc_a", "fresh_adjoint",
    "take_adjoint",
    "outer_grad_a", "outer_grad_b", "trace_grad", "norm_grad",
    "transpose_grad", "reshape_grad", "concatenate_grad", "stack_grad",
    "maximum_grad_x", "maximum_grad_y", "minimum_grad_x", "minimum_grad_y",
    "clip_grad", "where_grad_x", "where_grad_y", "abs_grad", "sign_like_zero", "vjp_part",
    "add_at", "take_written", "broadcast_like", "stop_gradient",
    "greater_slope", "less_slope", "sign_slope", "clip_slope", "max_weights", "min_weights",
]

_F64 = np.float64


# =====================================================================
# Typing-time helpers (on Numba types)
# =====================================================================

def _is_arr(t):
    return isinstance(t, types.Array)


def is_none_type(t):
    return t is None or isinstance(t, (types.NoneType, types.Omitted))


def _dt(t):
    """NumPy scalar class of an array type's dtype (usable in Numba code)."""
    return as_dtype(t.dtype).type


def _need(cond, func, msg):
    if not cond:
        raise TypingError(f"srcgrad.runtime.arrays.{func}: {msg}")


# =====================================================================
# Plain-Python helpers
# =====================================================================

def _isarr(a):
    return isinstance(a, np.ndarray)


def _pflat64(a):
    """A scalar or array as flat float64 data (a view when possible)."""
    return np.ascontiguousarray(a, dtype=_F64).reshape(-1)


def _pflat(a):
    return np.ascontiguousarray(a).reshape(-1)


def _size_error(what):
    raise ValueError(f"srcgrad: adjoint shape does not match {what}")


def lanes(shape, axis):
    """(pre, n, post): a C array of `shape` seen as lanes along `axis`
    (None: one lane over the flattened array)."""
    shape = tuple(int(s) for s in shape)
    if axis is None:
        return 1, int(np.prod(shape, dtype=np.int64)), 1
    nd = len(shape)
    axis = int(axis)
    if axis < -nd or axis >= nd:
        raise ValueError("srcgrad: axis out of bounds")
    axis %= nd
    return (int(np.prod(shape[:axis], dtype=np.int64)), shape[axis],
            int(np.prod(shape[axis + 1:], dtype=np.int64)))


# =====================================================================
# Numba building blocks
# =====================================================================

def flat(a):
    return _pflat(a)


@overload(flat)
def _ov_flat(a):
    """Flat C data of an array (a view if C-contiguous) or of a scalar (a
    1-element float64 array)."""
    if not _is_arr(a):
        def impl_scalar(a):
            out = np.empty(1, np.float64)
            out[0] = a
            return out
        return impl_scalar
    if a.layout == "C":
        return lambda a: a.reshape(a.size)
    return lambda a: a.copy().reshape(a.size)


def shape_array(a):
    return np.array(np.shape(a), dtype=np.intp)


@overload(shape_array)
def _ov_shp(a):
    """The shape as an intp array (empty for a scalar or None)."""
    if not _is_arr(a):
        return lambda a: np.empty(0, np.intp)
    nd = a.ndim

    def impl(a):
        s = np.empty(nd, np.intp)
        for d in range(nd):
            s[d] = a.shape[d]
        return s
    return impl


@overload(lanes)
def _ov_lanes(shape, axis):
    if is_none_type(axis):
        return lambda shape, axis: (1, nelem(shape), 1)
    return lambda shape, axis: _axis_lanes(shape, axis)


@register_jitable
def nelem(shape):
    n = 1
    for d in range(shape.shape[0]):
        n *= shape[d]
    return n


@register_jitable
def _axis_lanes(shape, axis):
    nd = shape.shape[0]
    if axis < -nd or axis >= nd:
        raise ValueError("srcgrad: axis out of bounds")
    if axis < 0:
        axis += nd
    pre = 1
    post = 1
    for d in range(axis):
        pre *= shape[d]
    for d in range(axis + 1, nd):
        post *= shape[d]
    return pre, shape[axis], post


@register_jitable
def _bshape(s, t):
    """The broadcast shape of shapes `s` and `t`."""
    ns = s.shape[0]
    nt = t.shape[0]
    nd = max(ns, nt)
    r = np.empty(nd, np.intp)
    for d in range(nd):
        a = 1
        b = 1
        if d >= nd - ns:
            a = s[d - nd + ns]
        if d >= nd - nt:
            b = t[d - nd + nt]
        if a == b or b == 1:
            r[d] = a
        elif a == 1:
            r[d] = b
        else:
            raise ValueError("srcgrad: operands could not be broadcast together")
    return r


@register_jitable
def _bstrides_into(src, dst, st, row):
    """st[row] = the element strides that read a C array of shape `src`
    broadcast to shape `dst` (0 on broadcast dimensions)."""
    ns = src.shape[0]
    nd = dst.shape[0]
    if ns > nd:
        raise ValueError("srcgrad: cannot broadcast to fewer dimensions")
    for e in range(nd):
        st[row, e] = 0
    acc = 1
    for d in range(ns - 1, -1, -1):
        e = d + nd - ns
        if src[d] == dst[e]:
            st[row, e] = acc
        elif src[d] != 1:
            raise ValueError("srcgrad: shapes are not broadcast-compatible")
        acc *= src[d]


@register_jitable
def _plan(shape, st):
    """A loop plan over the C-order flat index of `shape` for operands read
    with strides st[o] (one row per operand): (offs, inner, steps), where
    flat index r * inner + j reads operand o at offs[r, o] + j * steps[o].
    Dimensions of size 1 are dropped and neighbours that every operand walks
    contiguously are merged, so unbroadcast operands give one long row."""
    nops = st.shape[0]
    nd = shape.shape[0]
    total = 1
    for d in range(nd):
        total *= shape[d]
    cs = np.empty(nd + 1, np.intp)          # merged dims, innermost first
    cst = np.empty((nops, nd + 1), np.intp)
    m = 0
    for d in range(nd - 1, -1, -1):
        if shape[d] == 1:
            continue
        merge = m > 0
        if merge:
            for o in range(nops):
                if st[o, d] != cst[o, m - 1] * cs[m - 1]:
                    merge = False
        if merge:
            cs[m - 1] *= shape[d]
        else:
            cs[m] = shape[d]
            for o in range(nops):
                cst[o, m] = st[o, d]
            m += 1
    steps = np.empty(nops, np.intp)
    inner = 1
    for o in range(nops):
        steps[o] = 0
    if m > 0:
        inner = cs[0]
        for o in range(nops):
            steps[o] = cst[o, 0]
    nrows = total // inner if total > 0 else 0
    offs = np.empty((nrows, nops), np.intp)
    idx = np.empty(nd + 1, np.intp)
    cur = np.empty(nops, np.intp)
    for d in range(m):
        idx[d] = 0
    for o in range(nops):
        cur[o] = 0
    for r in range(nrows):
        for o in range(nops):
            offs[r, o] = cur[o]
        d = 1
        while d < m:
            idx[d] += 1
            for o in range(nops):
                cur[o] += cst[o, d]
            if idx[d] < cs[d]:
                break
            for o in range(nops):
                cur[o] -= cst[o, d] * cs[d]
            idx[d] = 0
            d += 1
    return offs, inner, steps


# Bundled plans (shape arrays in, so each compiles once per process; one
# call site in the per-signature implementations keeps those cheap to compile).

@register_jitable
def _plan_to(src, dst):
    """The plan reading an operand of shape `src` broadcast to shape `dst`."""
    st = np.empty((1, dst.shape[0]), np.intp)
    _bstrides_into(src, dst, st, 0)
    return _plan(dst, st)


@register_jitable
def plan2(a, b):
    sh = _bshape(a, b)
    st = np.empty((2, sh.shape[0]), np.intp)
    _bstrides_into(a, sh, st, 0)
    _bstrides_into(b, sh, st, 1)
    offs, inner, steps = _plan(sh, st)
    return sh, offs, inner, steps


@register_jitable
def _plan3(a, b, c):
    sh = _bshape(_bshape(a, b), c)
    st = np.empty((3, sh.shape[0]), np.intp)
    _bstrides_into(a, sh, st, 0)
    _bstrides_into(b, sh, st, 1)
    _bstrides_into(c, sh, st, 2)
    offs, inner, steps = _plan(sh, st)
    return sh, offs, inner, steps


@register_jitable
def _plan4(a, b, c, d):
    sh = _bshape(_bshape(a, b), _bshape(c, d))
    st = np.empty((4, sh.shape[0]), np.intp)
    _bstrides_into(a, sh, st, 0)
    _bstrides_into(b, sh, st, 1)
    _bstrides_into(c, sh, st, 2)
    _bstrides_into(d, sh, st, 3)
    offs, inner, steps = _plan(sh, st)
    return sh, offs, inner, steps


@register_jitable
def _gt(a, b):
    """d max(a, b) / da with JAX's balanced rule: 1, 0.5 at a tie, else 0 (NaN: 0)."""
    if a > b:
        return 1.0
    if a == b:
        return 0.5
    return 0.0


# Elementwise kernels: out[r * inner + j] = rule(operand o at offs[r, o] + j * steps[o]).

@register_jitable
def _k_gt(out, offs, inner, steps, g, x, y):
    """g * gt(x, y): maximum/minimum, and clip with one bound."""
    sg = steps[0]
    sx = steps[1]
    sy = steps[2]
    for r in range(offs.shape[0]):
        og = offs[r, 0]
        ox = offs[r, 1]
        oy = offs[r, 2]
        k = r * inner
        for j in range(inner):
            out[k + j] = g[og + j * sg] * _gt(x[ox + j * sx], y[oy + j * sy])


@register_jitable
def _k_clip(out, offs, inner, steps, g, x, lo, hi):
    """g * (gt(x, lo) * gt(hi, x))."""
    sg = steps[0]
    sx = steps[1]
    sl = steps[2]
    sh = steps[3]
    for r in range(offs.shape[0]):
        og = offs[r, 0]
        ox = offs[r, 1]
        ol = offs[r, 2]
        oh = offs[r, 3]
        k = r * inner
        for j in range(inner):
            xv = x[ox + j * sx]
            out[k + j] = g[og + j * sg] * (_gt(xv, lo[ol + j * sl]) * _gt(hi[oh + j * sh], xv))


@register_jitable
def _k_where(out, offs, inner, steps, g, c, take):
    """g where (c != 0) == take, else 0 (a select)."""
    sg = steps[0]
    sc = steps[1]
    for r in range(offs.shape[0]):
        og = offs[r, 0]
        oc = offs[r, 1]
        k = r * inner
        for j in range(inner):
            if (c[oc + j * sc] != 0) == take:
                out[k + j] = g[og + j * sg]
            else:
                out[k + j] = 0.0


@register_jitable
def _k_abs(out, offs, inner, steps, g, x):
    """g if x >= 0 else -g."""
    sg = steps[0]
    sx = steps[1]
    for r in range(offs.shape[0]):
        og = offs[r, 0]
        ox = offs[r, 1]
        k = r * inner
        for j in range(inner):
            gv = g[og + j * sg]
            out[k + j] = gv if x[ox + j * sx] >= 0 else -gv


@register_jitable
def _k_add(out, offs, inner, steps, c):
    """out += c (broadcast): accum."""
    sc = steps[0]
    for r in range(offs.shape[0]):
        oc = offs[r, 0]
        k = r * inner
        for j in range(inner):
            out[k + j] += c[oc + j * sc]


@register_jitable
def _k_scatter(acc, offs, inner, steps, g):
    """acc = 0; acc[...] += g[k]: g (flat, C order) summed into the
    broadcast-strided acc (unbroadcast), in C order of g."""
    for k in range(acc.shape[0]):
        acc[k] = 0.0
    sa = steps[0]
    for r in range(offs.shape[0]):
        oa = offs[r, 0]
        k = r * inner
        if sa == 0:                    # a row summed into one entry
            t = acc[oa]
            for j in range(inner):
                t += g[k + j]
            acc[oa] = t
        else:
            for j in range(inner):
                acc[oa + j * sa] += g[k + j]


# Reduction kernels: data seen as (pre, n, post), lanes along the middle
# axis; g and ans as (pre, post) (cumsum: g has the full shape).

@register_jitable
def _k_spread(gf, pre, n, post, out, div):
    """out[j] = g / div along each lane (sum: div 1, mean: div n)."""
    for i in range(pre):
        for j in range(n):
            base = (i * n + j) * post
            gb = i * post
            for m in range(post):
                out[base + m] = gf[gb + m] / div


@register_jitable
def _k_prod(gf, xf, pre, n, post, out):
    """out[j] = g * ((prod x[:j]) * (prod x[j+1:])) along each lane: exclusive
    prefix and suffix products, no division."""
    pref = np.empty(n * post, np.float64)
    s = np.empty(post, np.float64)
    for i in range(pre):
        base = i * n * post
        gb = i * post
        for m in range(post):
            s[m] = 1.0
        for j in range(n):
            row = base + j * post
            for m in range(post):
                pref[j * post + m] = s[m]
                s[m] *= xf[row + m]
        for m in range(post):
            s[m] = 1.0
        for j in range(n - 1, -1, -1):
            row = base + j * post
            for m in range(post):
                out[row + m] = (gf[gb + m] * 1.0) * (pref[j * post + m] * s[m])
                s[m] *= xf[row + m]


@register_jitable
def _k_extreme(gf, xf, af, pre, n, post, out):
    """out[j] = (g / count) * (x[j] == ans) along each lane (JAX's max/min
    rule; a lane without a hit, i.e. holding NaN, gets NaN)."""
    share = np.empty(post, np.float64)
    for i in range(pre):
        base = i * n * post
        gb = i * post
        for m in range(post):
            share[m] = 0.0
        for j in range(n):
            row = base + j * post
            for m in range(post):
                if xf[row + m] == af[gb + m]:
                    share[m] += 1.0
        for m in range(post):
            share[m] = gf[gb + m] / share[m] if share[m] > 0 else np.nan
        for j in range(n):
            row = base + j * post
            for m in range(post):
                out[row + m] = share[m] * (1.0 if xf[row + m] == af[gb + m] else 0.0)


@register_jitable
def _k_revcum(gf, pre, n, post, out):
    """out[j] = sum(g[j:]) along each lane (the adjoint of cumsum)."""
    s = np.empty(post, np.float64)
    for i in range(pre):
        base = i * n * post
        for m in range(post):
            s[m] = 0.0
        for j in range(n - 1, -1, -1):
            row = base + j * post
            for m in range(post):
                s[m] += gf[row + m]
                out[row + m] = s[m]


@register_jitable
def _take_lanes(gf, pre, big, post, start, n, out):
    """out[i, j, l] = g[i, start + j, l], g seen as (pre, big, post)."""
    for i in range(pre):
        for j in range(n):
            src = (i * big + start + j) * post
            dst = (i * n + j) * post
            for m in range(post):
                out[dst + m] = gf[src + m]


# =====================================================================
# Adjoint buffers
# =====================================================================

def unbroadcast(g, like):
    """Reduce `g` to the shape of `like` by summing over broadcast dimensions
    (extra leading dims, and dims where `like` has size 1 but g does not).
    `like` a scalar: a float (the sum of g, or g). `g` a scalar and `like` an
    array: like-shaped array filled with g. Arrays: a new C array in like's
    dtype, summed in float64 (NumPy sums pairwise, Numba in order: the last
    bits can differ)."""
    if not _isarr(like):
        return float(np.sum(g, dtype=_F64)) if _isarr(g) else float(g)
    if not _isarr(g):
        return np.full(like.shape, g, like.dtype)
    lead = g.ndim - like.ndim
    if lead < 0:
        raise ValueError("srcgrad: cannot broadcast to fewer dimensions")
    axes = list(range(lead))
    for d, n in enumerate(like.shape):
        if n != g.shape[lead + d]:
            if n != 1:
                raise ValueError("srcgrad: shapes are not broadcast-compatible")
            axes.append(lead + d)
    s = np.sum(g, axis=tuple(axes), dtype=_F64)
    return np.asarray(s).reshape(like.shape).astype(like.dtype)


@overload(unbroadcast)
def _ov_unbroadcast(g, like):
    if not _is_arr(like):
        if _is_arr(g):
            def impl_sum(g, like):
                gf = flat(g)
                s = 0.0
                for k in range(gf.shape[0]):
                    s += gf[k]
                return s
            return impl_sum
        return lambda g, like: g * 1.0
    dt = _dt(like)
    if not _is_arr(g):
        def impl_fill(g, like):
            out = np.empty(like.size, dt)
            for k in range(out.shape[0]):
                out[k] = g
            return out.reshape(like.shape)
        return impl_fill
    _need(g.ndim >= like.ndim, "unbroadcast", "g has fewer dimensions than like")
    same = dt is np.float64
    if same and g.ndim == like.ndim and g.layout == "C" and _dt(g) is np.float64:
        # the common case, g already of like's shape: g itself (no allocation; callers
        # treat the result as possibly g, see segment._owned)
        def impl_same(g, like):
            if g.shape == like.shape:
                return g
            offs, inner, steps = _plan_to(shape_array(like), shape_array(g))
            acc = np.empty(like.size, np.float64)
            _k_scatter(acc, offs, inner, steps, flat(g))
            return acc.reshape(like.shape)
        return impl_same

    def impl(g, like):
        offs, inner, steps = _plan_to(shape_array(like), shape_array(g))
        acc = np.empty(like.size, np.float64)
        _k_scatter(acc, offs, inner, steps, flat(g))
        if same:
            return acc.reshape(like.shape)
        return acc.astype(dt).reshape(like.shape)
    return impl


def empty_adjoint(like):
    """The "adjoint is zero, not allocated yet" sentinel: a zero-size array
    with like's ndim and dtype (`ensure` turns it into zeros); 0.0 for a
    scalar `like`. A 0-d `like` has one element, so no 0-d array is zero-size:
    its sentinel is a 0-d zero, which `ensure` keeps."""
    if not _isarr(like):
        return 0.0
    return np.zeros((0,) * like.ndim, like.dtype)


@overload(empty_adjoint)
def _ov_empty_adjoint(like):
    if not _is_arr(like):
        return lambda like: 0.0
    zshape = (0,) * like.ndim
    dt = _dt(like)
    if like.ndim == 0:
        # a 0-d array has one element, so it cannot be zero-size: its sentinel is a real
        # zero (np.empty here left whatever the allocator had, and ensure kept it)
        return lambda like: np.zeros((), dt)
    return lambda like: np.empty(zshape, dt)


def ensure(b, like):
    """`b` if it is an array of like's shape (cast if its dtype differs),
    else zeros of like's shape and dtype. A scalar `like`: `b` itself.
    Under Numba a matching `b` that is not C-contiguous is copied, so the
    result is always a C array."""
    if not _isarr(like):
        return b
    if _isarr(b) and b.shape == like.shape:
        return b if b.dtype == like.dtype else b.astype(like.dtype)
    return np.zeros(like.shape, like.dtype)


@overload(ensure)
def _ov_ensure(b, like):
    if not _is_arr(like):
        return lambda b, like: b
    dt = _dt(like)
    if not _is_arr(b) or b.ndim != like.ndim:
        return lambda b, like: np.zeros(like.shape, dt)
    if _dt(b) is not dt:
        def impl_cast(b, like):
            if b.shape == like.shape:
                return b.astype(dt)
            return np.zeros(like.shape, dt)
        return impl_cast
    if b.layout != "C":
        def impl_copy(b, like):
            if b.shape == like.shape:
                return b.copy()
            return np.zeros(like.shape, dt)
        return impl_copy

    def impl(b, like):
        if b.shape == like.shape:
            return b
        return np.zeros(like.shape, dt)
    return impl


def accum(b, c, like):
    """``b = ensure(b, like); b += c`` (c a scalar or an array that broadcasts
    to like's shape), returning b: the way to add a contribution to an
    adjoint. In place when `b` can be kept, else on a new array: always use
    the returned value. A scalar `like`: ``b + c``."""
    if not _isarr(like):
        if _isarr(b) and b.size == 0:
            return c   # the empty sentinel of an array Numba typed, which NumPy made a scalar
        return b + c
    b = ensure(b, like)
    b += c
    return b


@register_jitable
def _accum_broadcast(out, c):
    """out += c, c broadcast to out's shape (through a broadcast plan)."""
    offs, inner, steps = _plan_to(shape_array(c), shape_array(out))
    _k_add(out.reshape(out.size), offs, inner, steps, flat(c))
    return out


@overload(accum)
def _ov_accum(b, c, like):
    if not _is_arr(like):
        return lambda b, c, like: b + c
    _need(not _is_arr(c) or c.ndim <= like.ndim, "accum", "c has more dimensions than like")
    if not _is_arr(c):
        def impl_scalar(b, c, like):
            out = ensure(b, like)
            cells = out.reshape(out.size)
            for k in range(cells.shape[0]):
                cells[k] += c
            return out
        return impl_scalar
    if c.ndim == like.ndim == 0:
        def impl_0d(b, c, like):
            out = ensure(b, like)
            out[()] += c[()]
            return out
        return impl_0d
    if c.ndim == like.ndim and c.ndim <= 2:
        # the common case, c already of like's shape: one loop, no broadcast plan (whose
        # shape and stride arrays, and reshapes, cost more than the additions for small
        # arrays)
        two = c.ndim == 2

        def impl_same(b, c, like):
            out = ensure(b, like)
            if c.shape == like.shape:
                if two:
                    for i in range(c.shape[0]):
                        for j in range(c.shape[1]):
                            out[i, j] += c[i, j]
                else:
                    for k in range(c.shape[0]):
                        out[k] += c[k]
                return out
            return _accum_broadcast(out, c)
        return impl_same

    def impl(b, c, like):
        return _accum_broadcast(ensure(b, like), c)
    return impl


def fresh_adjoint(c, like):
    """``accum(empty_adjoint(like), c, like)`` for a contribution `c` that nothing
    else will write to (a new array, or the adjoint of a temporary that is dead
    after this use): `c` itself when it already has like's shape and dtype and is
    C-contiguous, so the first contribution to a temporary's adjoint costs no
    allocation."""
    if _isarr(like) and _isarr(c) and c.shape == like.shape and c.dtype == like.dtype \
            and c.flags.c_contiguous:
        return c
    return accum(empty_adjoint(like), c, like)


@overload(fresh_adjoint)
def _ov_fresh_adjoint(c, like):
    if _is_arr(like) and _is_arr(c) and c.ndim == like.ndim and _dt(c) is _dt(like) \
            and c.layout == "C":
        def impl(c, like):
            if c.shape == like.shape:
                return c
            return accum(empty_adjoint(like), c, like)
        return impl
    return lambda c, like: accum(empty_adjoint(like), c, like)


def take_adjoint(b, c, like):
    """``accum(b, c, like)`` for a contribution `c` that nothing else will write to (an
    adjoint just taken from a variable that was then reset): `c` itself while `b` is
    still the empty sentinel and `c` has like's shape, dtype and layout, so passing an
    adjoint on (``u = u_new``) allocates and adds nothing."""
    if _isarr(like) and _isarr(b) and _isarr(c) and b.shape != like.shape \
            and c.shape == like.shape and c.dtype == like.dtype and c.flags.c_contiguous:
        return c
    return accum(b, c, like)


@overload(take_adjoint)
def _ov_take_adjoint(b, c, like):
    if _is_arr(like) and _is_arr(b) and _is_arr(c) and b == c and c.layout == "C" \
            and c.ndim == like.ndim and _dt(c) is _dt(like):
        def impl(b, c, like):
            if b.shape != like.shape and c.shape == like.shape:
                return c
            return accum(b, c, like)
        return impl
    return lambda b, c, like: accum(b, c, like)


# =====================================================================
# Reductions
# =====================================================================

def _reduction_plain(g, x, axis, what):
    """(pre, n, post, g as float64 (pre, 1, post)) after checking g's size."""
    pre, n, post = lanes(x.shape, axis)
    if np.size(g) != pre * post:
        _size_error(what)
    return pre, n, post, _pflat64(g).reshape(pre, 1, post)


def _scalar_x_plain(g):
    if np.size(g) != 1:
        _size_error("a scalar")
    return float(_pflat64(g)[0])


@register_jitable
def _scalar_x(gf):
    if gf.shape[0] != 1:
        raise ValueError("srcgrad: adjoint shape does not match a scalar")
    return gf[0] * 1.0


def _spread_overload(x, axis, mean):
    if not _is_arr(x):
        return lambda g, x, axis, keepdims: _scalar_x(flat(g))
    dt = _dt(x)

    def impl(g, x, axis, keepdims):
        pre, n, post = lanes(shape_array(x), axis)
        gf = flat(g)
        if gf.shape[0] != pre * post:
            raise ValueError("srcgrad: adjoint shape does not match the reduction")
        out = np.empty(pre * n * post, dt)
        _k_spread(gf, pre, n, post, out, (n * 1.0) if mean else 1.0)
        return out.reshape(x.shape)
    return impl


def _ans_overload(x, axis, extreme):
    """prod (extreme=False) or max/min: the rules that also receive ans."""
    if not _is_arr(x):
        return lambda g, x, ans, axis, keepdims: _scalar_x(flat(g))
    dt = _dt(x)
    if extreme:
        def impl_extreme(g, x, ans, axis, keepdims):
            pre, n, post = lanes(shape_array(x), axis)
            gf = flat(g)
            af = flat(ans)
            if gf.shape[0] != pre * post or af.shape[0] != pre * post:
                raise ValueError("srcgrad: adjoint shape does not match the reduction")
            out = np.empty(pre * n * post, dt)
            _k_extreme(gf, flat(x), af, pre, n, post, out)
            return out.reshape(x.shape)
        return impl_extreme

    def impl_prod(g, x, ans, axis, keepdims):
        pre, n, post = lanes(shape_array(x), axis)
        gf = flat(g)
        if gf.shape[0] != pre * post:
            raise ValueError("srcgrad: adjoint shape does not match the reduction")
        out = np.empty(pre * n * post, dt)
        _k_prod(gf, flat(x), pre, n, post, out)
        return out.reshape(x.shape)
    return impl_prod


def sum_grad(g, x, axis, keepdims):
    """Adjoint of ``np.sum(x, axis=axis, keepdims=keepdims)``: g broadcast back
    to x's shape, in x's dtype. `axis` None or an int (negative allowed); g of
    the reduced shape (any layout), or a scalar. keepdims only documents g's
    shape: g is checked by size."""
    if not _isarr(x):
        return _scalar_x_plain(g)
    pre, n, post, g3 = _reduction_plain(g, x, axis, "the reduction")
    out = np.empty((pre, n, post), x.dtype)
    out[...] = g3
    return out.reshape(x.shape)


@overload(sum_grad)
def _ov_sum_grad(g, x, axis, keepdims):
    return _spread_overload(x, axis, False)


def mean_grad(g, x, axis, keepdims):
    """Adjoint of ``np.mean(x, axis=axis, keepdims=keepdims)``: g / n broadcast
    (n = the number of entries averaged)."""
    if not _isarr(x):
        return _scalar_x_plain(g)
    pre, n, post, g3 = _reduction_plain(g, x, axis, "the reduction")
    out = np.empty((pre, n, post), x.dtype)
    if n:
        out[...] = g3 / float(n)
    return out.reshape(x.shape)


@overload(mean_grad)
def _ov_mean_grad(g, x, axis, keepdims):
    return _spread_overload(x, axis, True)


def prod_grad(g, x, ans, axis, keepdims):
    """Adjoint of ``np.prod(x, axis, keepdims=...)``: g times the product of the
    other entries of each lane, from exclusive prefix and suffix products (no
    division: exact with one zero or several, like JAX). `ans` is not used."""
    if not _isarr(x):
        return _scalar_x_plain(g)
    pre, n, post, g3 = _reduction_plain(g, x, axis, "the reduction")
    x3 = _pflat64(x).reshape(pre, n, post)
    ones = np.ones((pre, 1, post))
    before = np.concatenate([ones, np.cumprod(x3, axis=1)[:, :-1]], axis=1)
    after = np.concatenate([np.cumprod(x3[:, ::-1], axis=1)[:, :-1][:, ::-1], ones], axis=1)
    out = np.empty((pre, n, post), x.dtype)
    out[...] = g3 * (before * after)
    return out.reshape(x.shape)


@overload(prod_grad)
def _ov_prod_grad(g, x, ans, axis, keepdims):
    return _ans_overload(x, axis, False)


def _extreme_plain(g, x, ans, axis):
    if not _isarr(x):
        return _scalar_x_plain(g)
    pre, n, post, g3 = _reduction_plain(g, x, axis, "the reduction")
    if np.size(ans) != pre * post:
        _size_error("the reduction (ans)")
    x3 = _pflat64(x).reshape(pre, n, post)
    hit = x3 == _pflat64(ans).reshape(pre, 1, post)
    count = hit.sum(axis=1, keepdims=True)
    out = np.empty((pre, n, post), x.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[...] = (g3 / count) * np.where(hit, 1.0, 0.0)
    return out.reshape(x.shape)


def max_grad(g, x, ans, axis, keepdims):
    """Adjoint of ``np.max(x, axis, keepdims=...)`` (JAX's rule): each lane's
    adjoint is split equally among the entries equal to its maximum `ans`,
    ``(g / count) * (x == ans)``. A lane holding NaN gets NaN everywhere."""
    return _extreme_plain(g, x, ans, axis)


@overload(max_grad)
def _ov_max_grad(g, x, ans, axis, keepdims):
    return _ans_overload(x, axis, True)


def min_grad(g, x, ans, axis, keepdims):
    """Adjoint of ``np.min(...)``: the rule of `max_grad`."""
    return _extreme_plain(g, x, ans, axis)


@overload(min_grad)
def _ov_min_grad(g, x, ans, axis, keepdims):
    return _ans_overload(x, axis, True)


def cumsum_grad(g, x, axis):
    """Adjoint of ``np.cumsum(x, axis)``: the reverse cumulative sum of g along
    `axis`, in x's shape and dtype. axis None: g is the flattened (1-D)
    cumsum's adjoint. A scalar x (``np.cumsum(3.0)`` has shape (1,)): a float."""
    if not _isarr(x):
        return _scalar_x_plain(g)
    pre, n, post = lanes(x.shape, axis)
    if np.size(g) != pre * n * post or (axis is not None and np.shape(g) != x.shape):
        _size_error("cumsum")
    g3 = _pflat64(g).reshape(pre, n, post)
    out = np.empty((pre, n, post), x.dtype)
    out[...] = np.cumsum(g3[:, ::-1], axis=1)[:, ::-1]
    return out.reshape(x.shape)


@overload(cumsum_grad)
def _ov_cumsum_grad(g, x, axis):
    if not _is_arr(x):
        return lambda g, x, axis: _scalar_x(flat(g))
    _need(_is_arr(g), "cumsum_grad", "g must be an array")
    dt = _dt(x)
    by_axis = not is_none_type(axis)
    _need(not by_axis or g.ndim == x.ndim, "cumsum_grad", "g must have x's shape")

    def impl(g, x, axis):
        pre, n, post = lanes(shape_array(x), axis)
        if g.size != pre * n * post or (by_axis and g.shape != x.shape):
            raise ValueError("srcgrad: adjoint shape does not match cumsum")
        gf = flat(g)
        out = np.empty(pre * n * post, dt)
        _k_revcum(gf, pre, n, post, out)
        return out.reshape(x.shape)
    return impl


# =====================================================================
# Products
# =====================================================================

def _check_mm(a, b):
    if not (_isarr(a) and _isarr(b) and a.ndim in (1, 2) and b.ndim in (1, 2)):
        raise ValueError("srcgrad: matmul/dot adjoints need 1-D or 2-D arrays a and b")


def _mm_plain(g, o):
    """g and the other operand in one compute dtype (float32 only if both are)."""
    g = np.asarray(g)
    if g.dtype != o.dtype or g.dtype != np.float32:
        return g.astype(_F64, copy=False), o.astype(_F64, copy=False)
    return g, o


def matmul_grad_a(g, a, b):
    """Adjoint of ``a @ b`` (also ``np.dot(a, b)``) for `a`, with a and b 1-D or
    2-D: vec.vec (g a scalar) -> g * b; mat.vec -> outer(g, b); vec.mat ->
    b @ g; mat.mat -> g @ b.T. In a's dtype (BLAS in float32 if g and b are)."""
    _check_mm(a, b)
    g, o = _mm_plain(g, b)
    if a.ndim == 1 and b.ndim == 1:
        r = g * o
    elif b.ndim == 1:
        r = np.outer(g, o)
    elif a.ndim == 1:
        r = np.dot(o, g)
    else:
        r = np.dot(g, o.T)
    return r.astype(a.dtype, copy=False)


def matmul_grad_b(g, a, b):
    """Adjoint of ``a @ b`` for `b`: vec.vec -> g * a; mat.vec -> a.T @ g;
    vec.mat -> outer(a, g); mat.mat -> a.T @ g. In b's dtype."""
    _check_mm(a, b)
    g, o = _mm_plain(g, a)
    if a.ndim == 1 and b.ndim == 1:
        r = g * o
    elif a.ndim == 1:
        r = np.outer(o, g)
    else:
        r = np.dot(o.T, g)
    return r.astype(b.dtype, copy=False)


dot_grad_a = matmul_grad_a
dot_grad_b = matmul_grad_b


def matmul_acc_a(acc, g, a, b):
    """``accum(acc, matmul_grad_a(g, a, b), a)``: add the adjoint of ``a @ b`` for
    `a` into `acc`. For a matrix times a vector (``W @ h`` in a loop) it adds the
    outer product in place, without building it first."""
    return accum(acc, matmul_grad_a(g, a, b), a)


@overload(matmul_acc_a)
def _ov_matmul_acc_a(acc, g, a, b):
    if not (_is_arr(a) and _is_arr(b) and _is_arr(g) and a.ndim == 2 and b.ndim == 1
            and g.ndim == 1):
        return lambda acc, g, a, b: accum(acc, matmul_grad_a(g, a, b), a)

    def impl(acc, g, a, b):
        out = ensure(acc, a)
        m, n = a.shape
        if g.shape[0] != m or b.shape[0] != n:
            raise ValueError("srcgrad: adjoint shape does not match a @ b")
        for i in range(m):
            gi = g[i]
            for j in range(n):
                out[i, j] += gi * b[j]
        return out
    return impl


def _blas_kind(t, ct):
    """Typing-time: 0 if array type `t` can go to BLAS as it is, 1 if it needs
    a cast to `ct`, 2 if it needs a contiguous copy ('A' layout)."""
    if _dt(t) is not ct:
        return 1
    return 2 if t.layout == "A" else 0


def _mm_overload(g, a, b, wrt_a):
    func = "matmul_grad_a" if wrt_a else "matmul_grad_b"
    _need(_is_arr(a) and _is_arr(b) and a.ndim in (1, 2) and b.ndim in (1, 2), func,
          "a and b must be 1-D or 2-D arrays")
    other = b if wrt_a else a
    dt = _dt(a if wrt_a else b)
    if a.ndim == 1 and b.ndim == 1:
        _need(not _is_arr(g), func, "g must be a scalar for vector @ vector")

        def impl_vv(g, a, b):
            o = flat(b) if wrt_a else flat(a)
            out = np.empty(o.shape[0], dt)
            gv = g * 1.0
            for i in range(o.shape[0]):
                out[i] = gv * o[i]
            return out
        return impl_vv
    _need(_is_arr(g), func, "g must be an array")
    if (wrt_a and b.ndim == 1) or (not wrt_a and a.ndim == 1):
        # mat.vec: outer(g, b) for a; vec.mat: outer(a, g) for b
        def impl_outer(g, a, b):
            u = flat(g) if wrt_a else flat(a)
            v = flat(b) if wrt_a else flat(g)
            out = np.empty((u.shape[0], v.shape[0]), dt)
            for i in range(u.shape[0]):
                ui = u[i] * 1.0
                for j in range(v.shape[0]):
                    out[i, j] = ui * v[j]
            return out
        return impl_outer
    ct = np.float32 if (_dt(g) is np.float32 and _dt(other) is np.float32) else np.float64
    kg = _blas_kind(g, ct)
    ko = _blas_kind(other, ct)
    same = dt is ct
    # which product: 0 = b @ g (vec.mat, for a), 1 = g @ b.T (mat.mat, for a),
    # 2 = a.T @ g (for b)
    which = (0 if a.ndim == 1 else 1) if wrt_a else 2

    def impl(g, a, b):
        o = b if wrt_a else a
        gg = g.astype(ct) if kg == 1 else (g.copy() if kg == 2 else g)
        oo = o.astype(ct) if ko == 1 else (o.copy() if ko == 2 else o)
        if which == 0:
            r = np.dot(oo, gg)
        elif which == 1:
            r = np.dot(gg, oo.T)
        else:
            r = np.dot(oo.T, gg)
        if same:
            return r
        return r.astype(dt)
    return impl


@overload(matmul_grad_a)
def _ov_matmul_grad_a(g, a, b):
    return _mm_overload(g, a, b, True)


@overload(matmul_grad_b)
def _ov_matmul_grad_b(g, a, b):
    return _mm_overload(g, a, b, False)


def outer_grad_a(g, a, b):
    """Adjoint of ``np.outer(a, b)`` (which flattens a and b) for `a`:
    ``g @ b.ravel()`` in a's shape and dtype (a float for a scalar a)."""
    r = np.dot(np.asarray(g, dtype=_F64), _pflat64(b))
    if not _isarr(a):
        return float(r[0])
    return r.reshape(a.shape).astype(a.dtype)


def outer_grad_b(g, a, b):
    """Adjoint of ``np.outer(a, b)`` for `b`: ``a.ravel() @ g`` in b's shape."""
    r = np.dot(_pflat64(a), np.asarray(g, dtype=_F64))
    if not _isarr(b):
        return float(r[0])
    return r.reshape(b.shape).astype(b.dtype)


def _outer_overload(g, a, b, wrt_a):
    _need(_is_arr(g) and g.ndim == 2, "outer_grad", "g must be a 2-D array")
    target = a if wrt_a else b
    tarr = _is_arr(target)
    dt = _dt(target) if tarr else np.float64

    def impl_a(g, a, b):
        gg = g.astype(np.float64)
        bf = flat(b).astype(np.float64)
        if gg.shape[0] != flat(a).shape[0] or gg.shape[1] != bf.shape[0]:
            raise ValueError("srcgrad: adjoint shape does not match outer")
        r = np.dot(gg, bf)
        return r.astype(dt).reshape(a.shape) if tarr else r[0]

    def impl_b(g, a, b):
        gg = g.astype(np.float64)
        af = flat(a).astype(np.float64)
        if gg.shape[0] != af.shape[0] or gg.shape[1] != flat(b).shape[0]:
            raise ValueError("srcgrad: adjoint shape does not match outer")
        r = np.dot(af, gg)
        return r.astype(dt).reshape(b.shape) if tarr else r[0]
    return impl_a if wrt_a else impl_b


@overload(outer_grad_a)
def _ov_outer_grad_a(g, a, b):
    return _outer_overload(g, a, b, True)


@overload(outer_grad_b)
def _ov_outer_grad_b(g, a, b):
    return _outer_overload(g, a, b, False)


def trace_grad(g, x, offset=0):
    """Adjoint of ``np.trace(x, offset)`` for a 2-D x: g on the diagonal ``offset`` above
    the main one (below it if negative), 0 elsewhere."""
    if not (_isarr(x) and x.ndim == 2):
        raise ValueError("srcgrad: trace_grad needs a 2-D x")
    out = np.zeros(x.shape, x.dtype)
    r0, c0 = max(0, -offset), max(0, offset)
    k = max(0, min(x.shape[0] - r0, x.shape[1] - c0))
    out[r0 + np.arange(k), c0 + np.arange(k)] = g
    return out


@overload(trace_grad)
def _ov_trace_grad(g, x, offset=0):
    _need(_is_arr(x) and x.ndim == 2, "trace_grad", "x must be a 2-D array")
    dt = _dt(x)

    def impl(g, x, offset=0):
        out = np.zeros(x.shape, dt)
        r0, c0 = max(0, -offset), max(0, offset)
        for i in range(min(x.shape[0] - r0, x.shape[1] - c0)):
            out[r0 + i, c0 + i] = g
        return out
    return impl


def norm_grad(g, x, ans, ord):
    """Adjoint of ``np.linalg.norm(x, ord)`` for 1-D or 2-D x: ord None (vector
    L2, matrix Frobenius) or 2 (vectors) -> ``x * (g / ans)``, which is NaN
    everywhere at x == 0, as in JAX; ord 1 (vectors) -> ``g if x >= 0 else -g``
    (slope +1 at 0, as JAX). Other ords raise ValueError."""
    if not (_isarr(x) and x.ndim in (1, 2)):
        raise ValueError("srcgrad: norm_grad needs a 1-D or 2-D x")
    xf = _pflat64(x)
    gv = np.float64(g)
    if ord is None or (x.ndim == 1 and ord == 2):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = xf * (gv / np.float64(ans))
    elif x.ndim == 1 and ord == 1:
        r = np.where(xf >= 0, gv, -gv)
    else:
        raise ValueError("srcgrad: norm_grad supports ord None, 1 and 2 for vectors,"
                         " None for matrices")
    return r.reshape(x.shape).astype(x.dtype)


@overload(norm_grad)
def _ov_norm_grad(g, x, ans, ord):
    _need(_is_arr(x) and x.ndim in (1, 2), "norm_grad", "x must be a 1-D or 2-D array")
    _need(not _is_arr(g) and not _is_arr(ans), "norm_grad", "g and ans must be scalars")
    dt = _dt(x)
    vec = x.ndim == 1
    none = is_none_type(ord)

    def impl(g, x, ans, ord):
        xf = flat(x)
        out = np.empty(xf.shape[0], dt)
        gv = g * 1.0
        if none or (vec and ord == 2):
            # g / 0 is inf or NaN and x is 0 there: NaN (also under error_model="python")
            share = gv / ans if ans != 0 else np.nan
            for k in range(xf.shape[0]):
                out[k] = xf[k] * share
        elif vec and ord == 1:
            for k in range(xf.shape[0]):
                out[k] = gv if xf[k] >= 0 else -gv
        else:
            raise ValueError("srcgrad: norm_grad supports ord None, 1 and 2 for vectors,"
                             " None for matrices")
        return out.reshape(x.shape)
    return impl


# =====================================================================
# Shape operations
# =====================================================================

def transpose_grad(g, axes=None):
    """Adjoint of ``x.T`` / ``np.transpose(x, axes)``: ``g.T`` (a view) without axes, g
    transposed by the inverse permutation with them; a scalar as is."""
    if not _isarr(g):
        return g
    if axes is None:
        return g.T
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a % len(axes)] = i
    return np.transpose(g, inverse)


@overload(transpose_grad)
def _ov_transpose_grad(g, axes=None):
    if not _is_arr(g):
        return lambda g, axes=None: g
    if is_none_type(axes):
        return lambda g, axes=None: g.T
    n = len(axes)

    def impl(g, axes=None):
        inverse = np.empty(n, np.int64)
        for i in range(n):
            inverse[axes[i] % n] = i
        return np.transpose(g, to_fixed_tuple(inverse, n))
    return impl


def reshape_grad(g, x):
    """Adjoint of ``np.reshape(x, ...)`` / ``x.ravel()``: g reshaped to x's shape
    (a view when g is C-contiguous and in x's dtype, else a copy). A scalar x:
    a float (g must have one element); a scalar g: filled array."""
    if not _isarr(x):
        return _scalar_x_plain(g)
    if not _isarr(g):
        return np.full(x.shape, g, x.dtype)
    if g.size != x.size:
        _size_error("reshape")
    r = np.ascontiguousarray(g).reshape(x.shape)
    return r if r.dtype == x.dtype else r.astype(x.dtype)


@overload(reshape_grad)
def _ov_reshape_grad(g, x):
    if not _is_arr(x):
        return lambda g, x: _scalar_x(flat(g))
    dt = _dt(x)
    if not _is_arr(g):
        return lambda g, x: np.full(x.shape, g, dt)
    cast = _dt(g) is not dt

    def impl(g, x):
        if g.size != x.size:
            raise ValueError("srcgrad: adjoint shape does not match reshape")
        if cast:
            return flat(g).astype(dt).reshape(x.shape)
        return flat(g).reshape(x.shape)
    return impl


def concatenate_grad(g, x, axis, start):
    """Adjoint of ``np.concatenate([..., x, ...], axis)`` for `x`: the slice of g
    along `axis` from `start` with x's extent there (a new array in x's
    dtype). axis None (inputs flattened): ``g[start:start + x.size]`` in x's
    shape; a scalar x then gives a float."""
    if axis is None:
        pre, big, post = 1, np.size(g), 1
        n = np.size(x)
    else:
        if not (_isarr(x) and _isarr(g) and g.ndim == x.ndim):
            raise ValueError("srcgrad: concatenate_grad needs arrays of equal ndim")
        pre, big, post = lanes(g.shape, axis)
        ax = axis % g.ndim
        n = x.shape[ax]
        if g.shape[:ax] != x.shape[:ax] or g.shape[ax + 1:] != x.shape[ax + 1:]:
            _size_error("concatenate")
    if start < 0 or start + n > big:
        raise ValueError("srcgrad: concatenate_grad slice out of range")
    piece = _pflat(g).reshape(pre, big, post)[:, start:start + n]
    if not _isarr(x):
        return float(piece[0, 0, 0])
    return piece.astype(x.dtype).reshape(x.shape)


@register_jitable
def _concat_lanes_flat(g, x, axis):
    return 1, g.size, 1, nelem(shape_array(x))


@register_jitable
def _concat_lanes_axis(g, x, axis):
    gs = shape_array(g)
    xs = shape_array(x)
    pre, big, post = _axis_lanes(gs, axis)
    ax = axis if axis >= 0 else axis + gs.shape[0]
    for d in range(gs.shape[0]):
        if d != ax and gs[d] != xs[d]:
            raise ValueError("srcgrad: adjoint shape does not match concatenate")
    return pre, big, post, xs[ax]


@overload(concatenate_grad)
def _ov_concatenate_grad(g, x, axis, start):
    _need(_is_arr(g), "concatenate_grad", "g must be an array")
    xarr = _is_arr(x)
    dt = _dt(x) if xarr else np.float64
    if is_none_type(axis):
        lanes_of = _concat_lanes_flat
    else:
        _need(xarr and x.ndim == g.ndim, "concatenate_grad", "x and g must have equal ndim")
        lanes_of = _concat_lanes_axis

    def impl(g, x, axis, start):
        pre, big, post, n = lanes_of(g, x, axis)
        if start < 0 or start + n > big:
            raise ValueError("srcgrad: concatenate_grad slice out of range")
        out = np.empty(pre * n * post, dt)
        _take_lanes(flat(g), pre, big, post, start, n, out)
        return out.reshape(x.shape)

    def impl_scalar(g, x, axis, start):
        pre, big, post, n = lanes_of(g, x, axis)
        if start < 0 or start + n > big:
            raise ValueError("srcgrad: concatenate_grad slice out of range")
        out = np.empty(pre * n * post, dt)
        _take_lanes(flat(g), pre, big, post, start, n, out)
        return out[0] * 1.0
    return impl if xarr else impl_scalar


def stack_grad(g, axis, k):
    """Adjoint of ``np.stack([...], axis)`` for its k-th input: g's k-th slice
    along `axis` (a new array in g's dtype; a float if g is 1-D)."""
    pre, big, post = lanes(g.shape, axis)
    if k < 0 or k >= big:
        raise ValueError("srcgrad: stack_grad index out of range")
    piece = _pflat(g).reshape(pre, big, post)[:, k]
    if g.ndim == 1:
        return float(piece[0, 0])
    ax = axis % g.ndim
    return piece.reshape(g.shape[:ax] + g.shape[ax + 1:]).copy()


@register_jitable
def _stack_take(g, axis, k, out):
    """Fill out (flat, pre * post) with g's k-th slice along axis; return its shape."""
    gs = shape_array(g)
    nd = gs.shape[0]
    pre, big, post = _axis_lanes(gs, axis)
    if k < 0 or k >= big:
        raise ValueError("srcgrad: stack_grad index out of range")
    _take_lanes(flat(g), pre, big, post, k, 1, out)
    ax = axis if axis >= 0 else axis + nd
    rs = np.empty(nd - 1, np.intp)
    for d in range(nd - 1):
        rs[d] = gs[d if d < ax else d + 1]
    return rs


@overload(stack_grad)
def _ov_stack_grad(g, axis, k):
    _need(_is_arr(g), "stack_grad", "g must be an array")
    nd1 = g.ndim - 1
    dt = _dt(g)
    if nd1 == 0:
        def impl_1d(g, axis, k):
            out = np.empty(1, dt)
            _stack_take(g, axis, k, out)
            return out[0] * 1.0
        return impl_1d

    def impl(g, axis, k):
        pre, big, post = _axis_lanes(shape_array(g), axis)
        out = np.empty(pre * post, dt)
        rs = _stack_take(g, axis, k, out)
        return out.reshape(to_fixed_tuple(rs, nd1))
    return impl


# =====================================================================
# Elementwise rules (broadcasting; JAX conventions at ties)
# =====================================================================

def _p_gt(a, b):
    """Plain `_gt`: 1 where a > b, 0.5 where a == b, else 0 (float64)."""
    return np.where(np.greater(a, b), 1.0, np.where(np.equal(a, b), 0.5, 0.0))


def _plain_ew(value, g, *args):
    """A float if all arguments are scalars (or None), else an array of the
    broadcast shape in g's dtype (float64 for a scalar g)."""
    if not (_isarr(g) or any(_isarr(a) for a in args)):
        return float(value)
    dt = g.dtype if _isarr(g) else _F64
    shape = np.broadcast_shapes(np.shape(g), *(np.shape(a) for a in args if a is not None))
    out = np.empty(shape, dt)
    out[...] = value
    return out


def _ew_types(*ts):
    """Typing-time: (any array among ts, max ndim, output dtype)."""
    nds = [t.ndim for t in ts if _is_arr(t)]
    g = ts[0]
    return bool(nds), max(nds, default=0), (_dt(g) if _is_arr(g) else np.float64)


def _gt_overload(g, x, y, swap):
    """g * gt(x, y) (gt(y, x) if swap), broadcast."""
    anyarr, nd, dt = _ew_types(g, x, y)
    if not anyarr:
        if swap:
            return lambda g, x, y: g * _gt(y, x)
        return lambda g, x, y: g * _gt(x, y)

    def impl(g, x, y):
        if swap:
            sh, offs, inner, steps = _plan3(shape_array(g), shape_array(y), shape_array(x))
        else:
            sh, offs, inner, steps = _plan3(shape_array(g), shape_array(x), shape_array(y))
        out = np.empty(nelem(sh), dt)
        if swap:
            _k_gt(out, offs, inner, steps, flat(g), flat(y), flat(x))
        else:
            _k_gt(out, offs, inner, steps, flat(g), flat(x), flat(y))
        return out.reshape(to_fixed_tuple(sh, nd))
    return impl


def maximum_grad_x(g, x, y):
    """Adjoint of ``np.maximum(x, y)`` for x: ``g * (1 if x > y, 0.5 if x == y,
    else 0)`` (JAX's balanced tie rule; 0 where x or y is NaN)."""
    return _plain_ew(g * _p_gt(x, y), g, x, y)


@overload(maximum_grad_x)
def _ov_maximum_grad_x(g, x, y):
    return _gt_overload(g, x, y, False)


def maximum_grad_y(g, x, y):
    """Adjoint of ``np.maximum(x, y)`` for y: ``g * (1 if y > x, 0.5 at a tie)``."""
    return _plain_ew(g * _p_gt(y, x), g, x, y)


@overload(maximum_grad_y)
def _ov_maximum_grad_y(g, x, y):
    return _gt_overload(g, x, y, True)


def minimum_grad_x(g, x, y):
    """Adjoint of ``np.minimum(x, y)`` for x: ``g * (1 if x < y, 0.5 at a tie)``."""
    return _plain_ew(g * _p_gt(y, x), g, x, y)


@overload(minimum_grad_x)
def _ov_minimum_grad_x(g, x, y):
    return _gt_overload(g, x, y, True)


def minimum_grad_y(g, x, y):
    """Adjoint of ``np.minimum(x, y)`` for y: ``g * (1 if y < x, 0.5 at a tie)``."""
    return _plain_ew(g * _p_gt(x, y), g, x, y)


@overload(minimum_grad_y)
def _ov_minimum_grad_y(g, x, y):
    return _gt_overload(g, x, y, False)


def clip_grad(g, x, lo, hi):
    """Adjoint of ``np.clip(x, lo, hi)`` for x, with JAX's definition
    ``minimum(maximum(x, lo), hi)``: ``g * (m_lo * m_hi)``, m_lo = 1 / 0.5 / 0
    for x > lo / x == lo / x < lo, m_hi = 1 / 0.5 / 0 for x < hi / x == hi /
    x > hi. So 0.5 at x == lo or x == hi, 0.25 at lo == x == hi, 0 when
    lo > hi or x is NaN. lo and hi: scalars, arrays or None (no bound)."""
    m_lo = 1.0 if lo is None else _p_gt(x, lo)
    m_hi = 1.0 if hi is None else _p_gt(hi, x)
    return _plain_ew(g * (m_lo * m_hi), g, x, lo, hi)


@overload(clip_grad)
def _ov_clip_grad(g, x, lo, hi):
    lo_none = is_none_type(lo)
    hi_none = is_none_type(hi)
    if lo_none and hi_none:
        return lambda g, x, lo, hi: where_grad_x(g, True)
    if lo_none:
        return lambda g, x, lo, hi: minimum_grad_x(g, x, hi)
    if hi_none:
        return lambda g, x, lo, hi: maximum_grad_x(g, x, lo)
    anyarr, nd, dt = _ew_types(g, x, lo, hi)
    if not anyarr:
        return lambda g, x, lo, hi: g * (_gt(x, lo) * _gt(hi, x))

    def impl(g, x, lo, hi):
        sh, offs, inner, steps = _plan4(shape_array(g), shape_array(x), shape_array(lo), shape_array(hi))
        out = np.empty(nelem(sh), dt)
        _k_clip(out, offs, inner, steps, flat(g), flat(x), flat(lo), flat(hi))
        return out.reshape(to_fixed_tuple(sh, nd))
    return impl


def _where_overload(g, c, take):
    anyarr, nd, dt = _ew_types(g, c)
    if not anyarr:
        if take:
            return lambda g, c: g * 1.0 if c != 0 else 0.0
        return lambda g, c: 0.0 if c != 0 else g * 1.0

    def impl(g, c):
        sh, offs, inner, steps = plan2(shape_array(g), shape_array(c))
        out = np.empty(nelem(sh), dt)
        _k_where(out, offs, inner, steps, flat(g), flat(c), take)
        return out.reshape(to_fixed_tuple(sh, nd))
    return impl


def where_grad_x(g, c):
    """Adjoint of ``np.where(c, x, y)`` for x: g where c is true (nonzero), else
    0 (a select, as JAX: an inf/NaN in g does not leak into other positions)."""
    return _plain_ew(np.where(np.not_equal(c, 0), g, 0.0), g, c)


@overload(where_grad_x)
def _ov_where_grad_x(g, c):
    return _where_overload(g, c, True)


def where_grad_y(g, c):
    """Adjoint of ``np.where(c, x, y)`` for y: g where c is false, else 0."""
    return _plain_ew(np.where(np.not_equal(c, 0), 0.0, g), g, c)


@overload(where_grad_y)
def _ov_where_grad_y(g, c):
    return _where_overload(g, c, False)


def abs_grad(g, x):
    """Adjoint of ``np.abs(x)``: ``g if x >= 0 else -g`` (as JAX: slope +1 at 0
    and at -0.0; -g at NaN)."""
    return _plain_ew(np.where(np.greater_equal(x, 0), g, np.negative(g)), g, x)


@overload(abs_grad)
def _ov_abs_grad(g, x):
    anyarr, nd, dt = _ew_types(g, x)
    if not anyarr:
        return lambda g, x: g * 1.0 if x >= 0 else -g * 1.0

    def impl(g, x):
        sh, offs, inner, steps = plan2(shape_array(g), shape_array(x))
        out = np.empty(nelem(sh), dt)
        _k_abs(out, offs, inner, steps, flat(g), flat(x))
        return out.reshape(to_fixed_tuple(sh, nd))
    return impl


def sign_like_zero(g, x):
    """The zero adjoint of a piecewise-constant function (np.sign, np.floor,
    ...): zeros of x's shape and dtype; 0.0 for a scalar x."""
    return np.zeros(x.shape, x.dtype) if _isarr(x) else 0.0


@overload(sign_like_zero)
def _ov_sign_like_zero(g, x):
    if _is_arr(x):
        dt = _dt(x)
        return lambda g, x: np.zeros(x.shape, dt)
    return lambda g, x: 0.0


# =====================================================================
# Advanced indexing: gathers and scatters with an integer or boolean array
# =====================================================================

def _index_parts(index):
    """Plain: (components, position of the array component, advanced dims first?).
    NumPy puts the advanced dimensions first when the advanced components (the array
    and any integers) are not next to each other, else where they stand."""
    parts = list(index) if isinstance(index, tuple) else [index]
    p = next(k for k, c in enumerate(parts) if isinstance(c, np.ndarray))
    return parts, p, _advanced_first(["a" if k == p else "i" if _is_int(c) else "s"
                                      for k, c in enumerate(parts)])


def _is_int(c):
    return isinstance(c, (int, np.integer)) and not isinstance(c, bool)


def _advanced_first(kinds):
    where = [k for k, kind in enumerate(kinds) if kind in "aim"]
    return where[-1] - where[0] + 1 != len(where)


def _positions(a):
    return np.nonzero(a)[0] if a.dtype == np.bool_ else a


def add_at(b, index, g):
    """``b[index] += g`` where repeated positions accumulate (``np.add.at``): the
    adjoint of a gather ``x[idx]``. `index` holds one 1-D integer or boolean array,
    with integers and slices around it; returns b (changed in place)."""
    np.add.at(b, index, g)
    return b


def take_written(b, index):
    """``b[index]`` with the entries of repeated positions zeroed except the last: the
    adjoint of a store ``y[idx] = v`` for v (the last write wins)."""
    out = np.array(b[index], dtype=b.dtype)
    parts, p, first = _index_parts(index)
    pos = _positions(parts[p])
    size = b.shape[p]
    seen = np.zeros(size, np.bool_)
    before = sum(1 for k, c in enumerate(parts) if k < p and isinstance(c, slice))
    for k in range(pos.shape[0] - 1, -1, -1):
        j = pos[k] % size
        if seen[j]:
            out[(k,) if first else (slice(None),) * before + (k,)] = 0
        seen[j] = True
    return out


def _fancy_kinds(index):
    """Typing time: one letter per index component ('i' integer, 's' slice, 'a'
    integer array, 'm' boolean mask), or None when the index is not of this form."""
    comps = list(index.types) if isinstance(index, types.BaseTuple) else [index]
    kinds = []
    for c in comps:
        if isinstance(c, types.Integer):
            kinds.append("i")
        elif isinstance(c, types.SliceType):
            kinds.append("s")
        elif isinstance(c, types.Array) and c.ndim == 1 and isinstance(c.dtype, types.Boolean):
            kinds.append("m")
        elif isinstance(c, types.Array) and c.ndim == 1 and isinstance(c.dtype, types.Integer):
            kinds.append("a")
        else:
            return None
    if sum(k in "am" for k in kinds) != 1:
        return None
    return kinds, isinstance(index, types.BaseTuple)


def _fancy_source(kinds, is_tuple, body):
    """The common head of add_at and take_written, specialized to one index form:
    `pos` the positions along the indexed axis, `n` their count, `B(j)` the basic
    index that position j stands for, `K(k)` the slot of the k-th position in the
    gathered result."""
    p = next(k for k, kind in enumerate(kinds) if kind in "am")
    comp = (lambda q: f"index[{q}]") if is_tuple else (lambda q: "index")
    first = _advanced_first(kinds)
    before = sum(1 for k in range(p) if kinds[k] == "s")
    basic = ", ".join("j" if q == p else comp(q) for q in range(len(kinds)))
    slot = "k" if first else ", ".join([":"] * before + ["k"])
    pos = f"np.nonzero({comp(p)})[0]" if kinds[p] == "m" else comp(p)
    return body.format(pos=pos, basic=basic, slot=slot, axis=p)


_ADD_AT = """
def impl(b, index, g):
    pos = {pos}
    for k in range(pos.shape[0]):
        j = pos[k]
        b[{basic}] += {gk}
    return b
"""

_TAKE_WRITTEN = """
def impl(b, index):
    out = b[index]
    pos = {pos}
    size = b.shape[{axis}]
    seen = np.zeros(size, np.bool_)
    for k in range(pos.shape[0] - 1, -1, -1):
        j = pos[k]
        if j < 0:
            j += size
        if seen[j]:
            out[{slot}] = 0
        seen[j] = True
    return out
"""


def _compile_source(source):
    scope = {"np": np}
    exec(compile(source, "<srcgrad.runtime.arrays advanced index>", "exec"), scope)
    return scope["impl"]


@overload(add_at)
def _ov_add_at(b, index, g):
    form = _fancy_kinds(index)
    _need(form is not None and _is_arr(b), "add_at",
          "the index must hold one 1-D integer or boolean array among integers and slices")
    kinds, is_tuple = form
    gk = "g[{slot}]" if _is_arr(g) else "g"
    body = _ADD_AT.replace("{gk}", gk.replace("{slot}", "{slot}"))
    return _compile_source(_fancy_source(kinds, is_tuple, body))


@overload(take_written)
def _ov_take_written(b, index):
    form = _fancy_kinds(index)
    _need(form is not None and _is_arr(b), "take_written",
          "the index must hold one 1-D integer or boolean array among integers and slices")
    kinds, is_tuple = form
    return _compile_source(_fancy_source(kinds, is_tuple, _TAKE_WRITTEN))


# =====================================================================
# User rules (srcgrad.custom_vjp)
# =====================================================================

def vjp_part(r, i, n):
    """Input `i`'s cotangent from what a user's vjp rule returned: `r` itself for a
    one-input function, else `r[i]`; 0.0 where the rule gave None."""
    part = r if n == 1 and not isinstance(r, tuple) else r[i]
    return 0.0 if part is None else part


@overload(vjp_part)
def _ov_vjp_part(r, i, n):
    if isinstance(r, (types.BaseTuple,)):
        idx = getattr(i, "literal_value", None)
        if idx is None:
            raise TypingError("srcgrad.runtime.arrays.vjp_part: the index must be a literal")
        part = r.types[idx] if hasattr(r, "types") else r.dtype
        if isinstance(part, types.NoneType):
            return lambda r, i, n: 0.0
        return lambda r, i, n: r[i]
    if isinstance(r, types.NoneType):
        return lambda r, i, n: 0.0
    return lambda r, i, n: r


@register_jitable
def stop_gradient(x):
    """Identity in the forward pass; no gradient flows through it (srcgrad.stop_gradient)."""
    return x


def broadcast_like(d, ans):
    """Forward mode: the tangent `d` of an operand (a scalar or an array that
    broadcasts to `ans`) at the shape of the result `ans`."""
    return d + np.zeros_like(ans)


@overload(broadcast_like)
def _ov_broadcast_like(d, ans):
    if _is_arr(ans) and _is_arr(d) and d.ndim == ans.ndim and _dt(d) is _dt(ans):
        def same_ndim(d, ans):
            if d.shape == ans.shape:
                return d
            return d + np.zeros_like(ans)
        return same_ndim

    def impl(d, ans):
        return d + np.zeros_like(ans)
    return impl


# =====================================================================
# Local slopes of piecewise-linear functions (forward mode: tangents that can be
# differentiated again, the slope itself being piecewise constant)
# =====================================================================

def greater_slope(x, y):
    """d max(x, y) / dx: 1 where x > y, 0.5 at a tie, 0 elsewhere (and where either is NaN),
    at the broadcast shape (a float for floats)."""
    return maximum_grad_x(1.0, x, y)


@overload(greater_slope)
def _ov_greater_slope(x, y):
    return lambda x, y: maximum_grad_x(1.0, x, y)


def less_slope(x, y):
    """d min(x, y) / dx: 1 where x < y, 0.5 at a tie, 0 elsewhere."""
    return minimum_grad_x(1.0, x, y)


@overload(less_slope)
def _ov_less_slope(x, y):
    return lambda x, y: minimum_grad_x(1.0, x, y)


def sign_slope(x):
    """d|x|/dx: 1 where x >= 0, -1 elsewhere (JAX's convention at 0)."""
    return abs_grad(1.0, x)


@overload(sign_slope)
def _ov_sign_slope(x):
    return lambda x: abs_grad(1.0, x)


def clip_slope(x, lo, hi):
    """d clip(x, lo, hi) / dx (clip_grad's conventions at the bounds)."""
    return clip_grad(1.0, x, lo, hi)


@overload(clip_slope)
def _ov_clip_slope(x, lo, hi):
    return lambda x, lo, hi: clip_grad(1.0, x, lo, hi)


def max_weights(x, ans, axis, keepdims):
    """d max(x, axis) / dx: 1 / (number of ties) on the entries equal to the maximum of
    their lane, 0 elsewhere."""
    return max_grad(np.ones_like(ans, dtype=np.float64), x, ans, axis, keepdims)


@overload(max_weights)
def _ov_max_weights(x, ans, axis, keepdims):
    if _is_arr(ans):
        return lambda x, ans, axis, keepdims: max_grad(np.ones(ans.shape), x, ans, axis,
                                                       keepdims)
    return lambda x, ans, axis, keepdims: max_grad(1.0, x, ans, axis, keepdims)


def min_weights(x, ans, axis, keepdims):
    """d min(x, axis) / dx: as max_weights, for the minimum."""
    return min_grad(np.ones_like(ans, dtype=np.float64), x, ans, axis, keepdims)


@overload(min_weights)
def _ov_min_weights(x, ans, axis, keepdims):
    if _is_arr(ans):
        return lambda x, ans, axis, keepdims: min_grad(np.ones(ans.shape), x, ans, axis,
                                                       keepdims)
    return lambda x, ans, axis, keepdims: min_grad(1.0, x, ans, axis, keepdims)
