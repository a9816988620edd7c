"""Runtime helpers for the adjoints of NumPy array operations.

Generated adjoint code calls these for array derivative rules. Every public
function is a plain Python/NumPy function (used when the adjoint runs with
``jit=False``) with a Numba implementation registered for it: either the same
code (``register_jitable``) or, where the code must depend on the argument
types (scalar or array, ``None`` or an int axis, ndim, dtype), a
``numba.extending.overload`` that returns a specialized implementation. So
the same generated source runs compiled and uncompiled, with the same numbers.

Arguments: ``g`` is the adjoint (cotangent) of the operation's result; ``x``,
``a``, ``b`` its inputs; ``ans`` its result; ``like`` gives a target shape and
dtype. Scalars are Python/NumPy floats; arrays are float64 or float32 of any
ndim and layout (C, F or non-contiguous). Conventions:

* Results for array inputs are new C-contiguous arrays in the dtype of the
  input they are the adjoint of (like JAX), computed in float64 and rounded
  once. ``transpose_grad`` and ``reshape_grad`` may return views of ``g``.
  Elementwise rules (``maximum_grad_x`` ...) return an array of the full
  broadcast shape in ``g``'s dtype (float64 if ``g`` is a scalar); srcgrad
  reduces them with ``unbroadcast``. All-scalar arguments give a float.
* Non-differentiable points follow JAX (``jax.vjp`` of the ``jnp`` function):
  ``max``/``min`` reductions split the adjoint equally among all positions
  equal to the extreme value (``g / count`` times the indicator; a lane
  holding NaN gets NaN everywhere); ``maximum``/``minimum`` give 0.5 to each
  side at ties and 0 to both where either is NaN; ``clip`` is
  ``minimum(maximum(x, lo), hi)``, so x gets 0.5 at ``x == lo`` and at
  ``x == hi``, 0.25 if ``lo == x == hi``, 0 if ``lo > hi``; ``abs`` has slope
  +1 at 0 and -0 (and -1 at NaN: ``select(x >= 0, g, -g)``); ``prod`` is exact
  with zeros (products of the other entries, no division); ``norm`` (L2 /
  Frobenius) is NaN everywhere at ``x == 0``, ord=1 has slope +1 at 0.
  Masks multiply ``g`` (``g * 0.5`` ...) as JAX does, so an infinite ``g`` gives
  NaN where the mask is 0; ``where`` selects instead (0 stays 0).

Numba notes: inner loops are explicit (array expressions, ``np.broadcast_*``
and slice assignment each cost Numba seconds of compile time); the loop
kernels work on flat C-contiguous data with shapes passed as ``intp`` arrays,
so each kernel compiles once per dtype, whatever the ndim or layout of the
caller's arrays. Non-contiguous inputs are copied once (``ascontiguousarray``).
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
    "matmul_grad_a", "matmul_grad_b", "dot_grad_a", "dot_grad_b",
    "outer_grad_a", "outer_grad_b", "trace_grad", "norm_grad",
    "transpose_grad", "reshape_grad", "concatenate_grad", "stack_grad",
    "maximum_grad_x", "maximum_grad_y", "minimum_grad_x", "minimum_grad_y",
    "clip_grad", "where_grad_x", "where_grad_y", "abs_grad", "sign_like_zero",
]

_F64 = np.float64


# =====================================================================
# Typing-time predicates (Numba types)
# =====================================================================

def _is_arr(t):
    return isinstance(t, types.Array)


def _is_none(t):
    return t is None or isinstance(t, (types.NoneType, types.Omitted))


def _is_scalar(t):
    return isinstance(t, (types.Float, types.Integer, types.Boolean))


def _dt(t):
    """NumPy scalar class of an array type's dtype (usable inside Numba code)."""
    return as_dtype(t.dtype).type


def _out_dt(g):
    """Result dtype of the elementwise rules: g's dtype, float64 for a scalar g."""
    return _dt(g) if _is_arr(g) else _F64


def _need(cond, func, msg):
    if not cond:
        raise TypingError(f"srcgrad.runtime_np.{func}: {msg}")


# =====================================================================
# Plain-Python helpers
# =====================================================================

def _isarr(a):
    return isinstance(a, np.ndarray)


def _pflat64(a):
    """Any scalar/array as a flat float64 array (a view when possible)."""
    return np.ascontiguousarray(a, dtype=_F64).reshape(-1)


def _pflat(a):
    return np.ascontiguousarray(a).reshape(-1)


# =====================================================================
# Shared Numba kernels (flat C-contiguous data; shapes as intp arrays)
# =====================================================================

@register_jitable
def _nelem(shape):
    n = 1
    for d in range(shape.shape[0]):
        n *= shape[d]
    return n


@register_jitable
def _same(s, t):
    if s.shape[0] != t.shape[0]:
        return False
    for d in range(s.shape[0]):
        if s[d] != t[d]:
            return False
    return True


@register_jitable
def _flat(a):
    """A flat C-contiguous view of array `a` (a copy only if `a` is not contiguous)."""
    return np.ascontiguousarray(a).reshape(a.size)


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
def _bstrides(src, dst):
    """Element strides that broadcast a C-contiguous array of shape `src` to `dst`."""
    ns = src.shape[0]
    nd = dst.shape[0]
    if ns > nd:
        raise ValueError("srcgrad: cannot broadcast to a shape with fewer dimensions")
    st = np.zeros(nd, np.intp)
    acc = 1
    for d in range(ns - 1, -1, -1):
        e = d + nd - ns
        if src[d] == dst[e]:
            st[e] = acc
        elif src[d] != 1:
            raise ValueError("srcgrad: shapes are not broadcast-compatible")
        acc *= src[d]
    return st


@register_jitable
def _expand_into(src, st, shape, out, add):
    """out[k] (+)= src[off(k)]: out is flat in C order over `shape`, src is read
    with element strides `st` (0 on broadcast dimensions). An odometer walks the
    outer dimensions; the last one is a plain loop."""
    nd = shape.shape[0]
    total = out.shape[0]
    if total == 0:
        return
    if nd == 0:
        if add:
            out[0] += src[0]
        else:
            out[0] = src[0]
        return
    inner = shape[nd - 1]
    step = st[nd - 1]
    idx = np.zeros(nd, np.intp)
    off = 0
    k = 0
    while k < total:
        if add:
            for j in range(inner):
                out[k + j] += src[off + j * step]
        else:
            for j in range(inner):
                out[k + j] = src[off + j * step]
        k += inner
        d = nd - 2
        while d >= 0:
            idx[d] += 1
            off += st[d]
            if idx[d] < shape[d]:
                break
            off -= st[d] * shape[d]
            idx[d] = 0
            d -= 1


@register_jitable
def _reduce_into(acc, st, shape, g):
    """acc[off(k)] += g[k]: the transpose of `_expand_into` (sums broadcast dims)."""
    nd = shape.shape[0]
    total = g.shape[0]
    if total == 0:
        return
    if nd == 0:
        acc[0] += g[0]
        return
    inner = shape[nd - 1]
    step = st[nd - 1]
    idx = np.zeros(nd, np.intp)
    off = 0
    k = 0
    while k < total:
        for j in range(inner):
            acc[off + j * step] += g[k + j]
        k += inner
        d = nd - 2
        while d >= 0:
            idx[d] += 1
            off += st[d]
            if idx[d] < shape[d]:
                break
            off -= st[d] * shape[d]
            idx[d] = 0
            d -= 1


@register_jitable
def _sum_flat(a):
    s = 0.0
    for k in range(a.shape[0]):
        s += a[k]
    return s


@register_jitable
def _fill(out, v):
    for k in range(out.shape[0]):
        out[k] = v


@register_jitable
def _axis_lanes(shape, axis):
    """(pre, n, post) of a C array of `shape` seen as lanes along `axis`."""
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
def _check_reduced(gshape, xshape, axis, keepdims):
    """Raise unless `gshape` is the shape of a reduction of `xshape` along `axis`."""
    nd = xshape.shape[0]
    if axis < 0:
        axis += nd
    ng = gshape.shape[0]
    if keepdims:
        ok = ng == nd
        if ok:
            for d in range(nd):
                if gshape[d] != (1 if d == axis else xshape[d]):
                    ok = False
    else:
        ok = ng == nd - 1
        if ok:
            for d in range(ng):
                if gshape[d] != xshape[d if d < axis else d + 1]:
                    ok = False
    if not ok:
        raise ValueError("srcgrad: adjoint shape does not match the reduction")


@register_jitable
def _spread(gf, pre, n, post, out, div):
    """out[i, j, l] = gf[i, l] / div for j < n (the adjoint of a sum along j)."""
    for i in range(pre):
        for j in range(n):
            base = (i * n + j) * post
            gb = i * post
            for m in range(post):
                out[base + m] = gf[gb + m] / div


@register_jitable
def _prod_lanes(gf, xf, pre, n, post, out):
    """out[j] = g * (prod x[:j]) * (prod x[j+1:]) along each lane (exact with zeros)."""
    tmp = np.empty(n, np.float64)
    for i in range(pre):
        for m in range(post):
            gv = gf[i * post + m] * 1.0
            base = i * n * post + m
            p = 1.0
            for j in range(n):
                tmp[j] = p
                p *= xf[base + j * post]
            s = 1.0
            for j in range(n - 1, -1, -1):
                out[base + j * post] = gv * (tmp[j] * s)
                s *= xf[base + j * post]


@register_jitable
def _extreme_lanes(gf, xf, af, pre, n, post, out):
    """out[j] = (g / count) * (x[j] == ans): JAX's rule for max/min reductions."""
    for i in range(pre):
        for m in range(post):
            gv = gf[i * post + m] * 1.0
            av = af[i * post + m]
            base = i * n * post + m
            cnt = 0
            for j in range(n):
                if xf[base + j * post] == av:
                    cnt += 1
            share = gv / cnt
            for j in range(n):
                ind = 1.0 if xf[base + j * post] == av else 0.0
                out[base + j * post] = share * ind


@register_jitable
def _revcumsum_lanes(gf, pre, n, post, out):
    """out[j] = sum(g[j:]) along each lane (the adjoint of cumsum)."""
    for i in range(pre):
        for m in range(post):
            base = i * n * post + m
            s = 0.0
            for j in range(n - 1, -1, -1):
                s += gf[base + j * post]
                out[base + j * post] = s


@register_jitable
def _take_lanes(gf, pre, big, post, start, n, out):
    """out[i, j, l] = g[i, start + j, l] (g seen as (pre, big, post))."""
    for i in range(pre):
        for j in range(n):
            src = (i * big + start + j) * post
            dst = (i * n + j) * post
            for m in range(post):
                out[dst + m] = gf[src + m]


# ----- Numba-only type dispatch (plain Python never calls these) -----

def _shp(a):
    return np.array(np.shape(a), dtype=np.intp)


@overload(_shp)
def _ov_shp(a):
    if _is_arr(a):
        nd = a.ndim

        def impl(a):
            s = np.empty(nd, np.intp)
            for d in range(nd):
                s[d] = a.shape[d]
            return s
        return impl

    def impl_scalar(a):
        return np.empty(0, np.intp)
    return impl_scalar


def _flat1(a):
    return _pflat(a)


@overload(_flat1)
def _ov_flat1(a):
    """Scalar -> 1-element float64 array; array -> flat C view."""
    if _is_arr(a):
        return lambda a: _flat(a)
    return lambda a: np.full(1, a, np.float64)


def _operand(a, sh):
    raise NotImplementedError


@overload(_operand)
def _ov_operand(a, sh):
    """An elementwise operand: scalars/None as they are, arrays flat over the
    broadcast shape `sh` (a view if no broadcasting is needed)."""
    if _is_arr(a):
        def impl(a, sh):
            s = _shp(a)
            if _same(s, sh):
                return _flat(a)
            out = np.empty(_nelem(sh), a.dtype)
            _expand_into(_flat(a), _bstrides(s, sh), sh, out, False)
            return out
        return impl
    return lambda a, sh: a


def _at(a, k):
    raise NotImplementedError


@overload(_at)
def _ov_at(a, k):
    if _is_arr(a):
        return lambda a, k: a[k]
    return lambda a, k: a


def _lanes(shape, axis):
    """(pre, n, post) for `axis` (None: the flattened array)."""
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


@overload(_lanes)
def _ov_lanes(shape, axis):
    if _is_none(axis):
        return lambda shape, axis: (1, _nelem(shape), 1)
    return lambda shape, axis: _axis_lanes(shape, axis)


def _check_g(g, x, axis, keepdims):
    """Plain-Python shape check of a reduction's adjoint (mirrors `_ov_check_g`)."""
    if axis is None:
        if np.size(g) != 1:
            raise ValueError("srcgrad: adjoint shape does not match the reduction")
        return
    _check_reduced(_shp(g), _shp(x), int(axis), bool(keepdims))


@overload(_check_g)
def _ov_check_g(g, x, axis, keepdims):
    if _is_none(axis):
        def impl(g, x, axis, keepdims):
            if _nelem(_shp(g)) != 1:
                raise ValueError("srcgrad: adjoint shape does not match the reduction")
        return impl

    def impl_axis(g, x, axis, keepdims):
        _check_reduced(_shp(g), _shp(x), axis, keepdims)
    return impl_axis


# =====================================================================
# Adjoint buffers
# =====================================================================

def unbroadcast(g, like):
    """Reduce `g` to the shape of `like` by summing over broadcast dimensions
    (extra leading dims, and dims where `like` has size 1). `like` a scalar:
    a float (sum of g, or g). `g` a scalar, `like` an array: an array of like's
    shape filled with g. Arrays: a new C array in like's dtype (summed in
    float64; plain NumPy sums pairwise, Numba sequentially)."""
    if not _isarr(like):
        return float(np.sum(g, dtype=_F64)) if _isarr(g) else float(g)
    if not _isarr(g):
        return np.full(like.shape, g, like.dtype)
    lead = g.ndim - like.ndim
    if lead < 0:
        raise ValueError("srcgrad: cannot broadcast to a shape with fewer dimensions")
    axes = list(range(lead))
    for d, n in enumerate(like.shape):
        if n != g.shape[lead + d]:
            if n != 1:
                raise ValueError("srcgrad: shapes are not broadcast-compatible")
            axes.append(lead + d)
    s = np.sum(g, axis=tuple(axes), dtype=_F64)
    return s.reshape(like.shape).astype(like.dtype)


@overload(unbroadcast)
def _ov_unbroadcast(g, like):
    if not _is_arr(like):
        if _is_arr(g):
            return lambda g, like: _sum_flat(_flat(g))
        return lambda g, like: float(g)
    dt = _dt(like)
    if not _is_arr(g):
        def impl_fill(g, like):
            out = np.empty(like.size, dt)
            _fill(out, g)
            return out.reshape(like.shape)
        return impl_fill
    _need(g.ndim >= like.ndim, "unbroadcast", "g has fewer dimensions than like")
    f64 = dt is np.float64

    def impl(g, like):
        gs = _shp(g)
        acc = np.zeros(like.size, np.float64)
        _reduce_into(acc, _bstrides(_shp(like), gs), gs, _flat(g))
        if f64:
            return acc.reshape(like.shape)
        return acc.astype(dt).reshape(like.shape)
    return impl


def empty_adjoint(like):
    """A zero-size array with like's ndim and dtype: the "adjoint is zero, not
    allocated yet" sentinel (turned into zeros by `ensure`). 0.0 for a scalar."""
    if not _isarr(like):
        return 0.0
    return np.zeros((0,) * like.ndim, like.dtype)


@overload(empty_adjoint)
def _ov_empty_adjoint(like):
    if not _is_arr(like):
        return lambda like: 0.0
    zshape = (0,) * like.ndim
    dt = _dt(like)
    return lambda like: np.empty(zshape, dt)


def ensure(b, like):
    """`b` if it is an array of like's shape, else zeros of like's shape and dtype
    (a matching `b` of another dtype is cast). A scalar `like`: `b` itself."""
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
    if b.dtype == like.dtype:
        def impl(b, like):
            if b.shape == like.shape:
                return b
            return np.zeros(like.shape, dt)
        return impl

    def impl_cast(b, like):
        if b.shape == like.shape:
            return b.astype(dt)
        return np.zeros(like.shape, dt)
    return impl_cast


def accum(b, c, like):
    """``b = ensure(b, like); b += c`` (c a scalar or an array broadcastable to
    like's shape); returns b. In place when b is usable (under Numba: also
    C-contiguous), else a new array: always use the returned value. A scalar
    `like`: ``b + c``."""
    if not _isarr(like):
        return b + c
    b = ensure(b, like)
    b += c
    return b


@overload(accum)
def _ov_accum(b, c, like):
    if not _is_arr(like):
        return lambda b, c, like: b + c
    if _is_arr(c):
        def impl(b, c, like):
            out = np.ascontiguousarray(ensure(b, like))
            bs = _shp(like)
            cs = _shp(c)
            of = out.reshape(out.size)
            if _same(cs, bs):
                cf = _flat(c)
                for k in range(of.shape[0]):
                    of[k] += cf[k]
            else:
                _expand_into(_flat(c), _bstrides(cs, bs), bs, of, True)
            return out
        return impl

    def impl_scalar(b, c, like):
        out = np.ascontiguousarray(ensure(b, like))
        of = out.reshape(out.size)
        for k in range(of.shape[0]):
            of[k] += c
        return out
    return impl_scalar


# =====================================================================
# Reductions
# =====================================================================

def _reduction_setup(g, x, axis, keepdims):
    _check_g(g, x, axis, keepdims)
    pre, n, post = _lanes(x.shape, axis)
    return pre, n, post, _pflat64(g).reshape(pre, 1, post)


def _spread_plain(g, x, axis, keepdims, mean):
    if not _isarr(x):
        return float(_pflat64(g)[0]) if np.size(g) == 1 else _bad_scalar()
    pre, n, post, g3 = _reduction_setup(g, x, axis, keepdims)
    out = np.empty((pre, n, post), x.dtype)
    if n:
        out[...] = g3 / (n if mean else 1.0)
    return out.reshape(x.shape)


def _bad_scalar():
    raise ValueError("srcgrad: adjoint of a scalar must have size 1")


def _spread_overload(g, x, axis, keepdims, mean):
    if not _is_arr(x):
        return lambda g, x, axis, keepdims: _flat1(g)[0] * 1.0
    dt = _dt(x)

    def impl(g, x, axis, keepdims):
        _check_g(g, x, axis, keepdims)
        pre, n, post = _lanes(_shp(x), axis)
        out = np.empty(x.size, dt)
        _spread(_flat1(g), pre, n, post, out, (n * 1.0) if mean else 1.0)
        return out.reshape(x.shape)
    return impl


def sum_grad(g, x, axis, keepdims):
    """Adjoint of ``np.sum(x, axis=axis, keepdims=keepdims)``: g broadcast back
    to x's shape (x's dtype). `axis` None or an int (negative allowed)."""
    return _spread_plain(g, x, axis, keepdims, False)


@overload(sum_grad)
def _ov_sum_grad(g, x, axis, keepdims):
    return _spread_overload(g, x, axis, keepdims, False)


def mean_grad(g, x, axis, keepdims):
    """Adjoint of ``np.mean(x, axis=axis, keepdims=keepdims)``: g / n broadcast."""
    return _spread_plain(g, x, axis, keepdims, True)


@overload(mean_grad)
def _ov_mean_grad(g, x, axis, keepdims):
    return _spread_overload(g, x, axis, keepdims, True)


def prod_grad(g, x, ans, axis, keepdims):
    """Adjoint of ``np.prod(x, axis, keepdims=...)``: g times the product of the
    other entries of each lane, from exclusive prefix and suffix products (no
    division, so exact with zeros, like JAX). `ans` is accepted but not used."""
    if not _isarr(x):
        return float(_pflat64(g)[0]) if np.size(g) == 1 else _bad_scalar()
    pre, n, post, g3 = _reduction_setup(g, x, axis, keepdims)
    x3 = _pflat64(x).reshape(pre, n, post)
    ones = np.ones((pre, 1, post))
    before = np.concatenate([ones, np.cumprod(x3, axis=1)[:, :-1]], axis=1)
    after = np.concatenate([np.cumprod(x3[:, ::-1], axis=1)[:, :-1][:, ::-1], ones], axis=1)
    out = np.empty((pre, n, post), x.dtype)
    out[...] = g3 * (before * after)
    return out.reshape(x.shape)


@overload(prod_grad)
def _ov_prod_grad(g, x, ans, axis, keepdims):
    if not _is_arr(x):
        return lambda g, x, ans, axis, keepdims: _flat1(g)[0] * 1.0
    dt = _dt(x)

    def impl(g, x, ans, axis, keepdims):
        _check_g(g, x, axis, keepdims)
        pre, n, post = _lanes(_shp(x), axis)
        out = np.empty(x.size, dt)
        _prod_lanes(_flat1(g), _flat(x), pre, n, post, out)
        return out.reshape(x.shape)
    return impl


def _extreme_plain(g, x, ans, axis, keepdims):
    if not _isarr(x):
        return float(_pflat64(g)[0]) if np.size(g) == 1 else _bad_scalar()
    pre, n, post, g3 = _reduction_setup(g, x, axis, keepdims)
    if np.size(ans) != pre * post:
        raise ValueError("srcgrad: ans shape does not match the reduction")
    x3 = _pflat64(x).reshape(pre, n, post)
    hit = x3 == _pflat64(ans).reshape(pre, 1, post)
    count = hit.sum(axis=1, keepdims=True)
    out = np.empty((pre, n, post), x.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[...] = (g3 / count) * np.where(hit, 1.0, 0.0)
    return out.reshape(x.shape)


def _extreme_overload(g, x, ans, axis, keepdims):
    if not _is_arr(x):
        return lambda g, x, ans, axis, keepdims: _flat1(g)[0] * 1.0
    dt = _dt(x)

    def impl(g, x, ans, axis, keepdims):
        _check_g(g, x, axis, keepdims)
        pre, n, post = _lanes(_shp(x), axis)
        af = _flat1(ans)
        if af.shape[0] != pre * post:
            raise ValueError("srcgrad: ans shape does not match the reduction")
        out = np.empty(x.size, dt)
        _extreme_lanes(_flat1(g), _flat(x), af, pre, n, post, out)
        return out.reshape(x.shape)
    return impl


def max_grad(g, x, ans, axis, keepdims):
    """Adjoint of ``np.max(x, axis, keepdims=...)`` (JAX's rule): each lane's
    adjoint is split equally among the entries equal to the maximum `ans`:
    ``(g / count) * (x == ans)``. A lane containing NaN gets NaN everywhere."""
    return _extreme_plain(g, x, ans, axis, keepdims)


@overload(max_grad)
def _ov_max_grad(g, x, ans, axis, keepdims):
    return _extreme_overload(g, x, ans, axis, keepdims)


def min_grad(g, x, ans, axis, keepdims):
    """Adjoint of ``np.min``: the same rule as `max_grad`."""
    return _extreme_plain(g, x, ans, axis, keepdims)


@overload(min_grad)
def _ov_min_grad(g, x, ans, axis, keepdims):
    return _extreme_overload(g, x, ans, axis, keepdims)


def cumsum_grad(g, x, axis):
    """Adjoint of ``np.cumsum(x, axis)``: the reverse cumulative sum of g along
    `axis`. axis None: g is 1-D (x flattened) and the result has x's shape.
    A scalar x (``np.cumsum(3.0)`` has shape (1,)): a float."""
    if not _isarr(x):
        return float(_pflat64(g)[0]) if np.size(g) == 1 else _bad_scalar()
    pre, n, post = _lanes(x.shape, axis)
    if np.size(g) != pre * n * post or (axis is not None and np.shape(g) != x.shape):
        raise ValueError("srcgrad: adjoint shape does not match cumsum")
    g3 = _pflat64(g).reshape(pre, n, post)
    out = np.empty((pre, n, post), x.dtype)
    out[...] = np.cumsum(g3[:, ::-1], axis=1)[:, ::-1]
    return out.reshape(x.shape)


@overload(cumsum_grad)
def _ov_cumsum_grad(g, x, axis):
    if not _is_arr(x):
        return lambda g, x, axis: _flat1(g)[0] * 1.0
    dt = _dt(x)
    by_axis = not _is_none(axis)

    def impl(g, x, axis):
        xs = _shp(x)
        pre, n, post = _lanes(xs, axis)
        gs = _shp(g)
        if _nelem(gs) != pre * n * post or (by_axis and not _same(gs, xs)):
            raise ValueError("srcgrad: adjoint shape does not match cumsum")
        out = np.empty(x.size, dt)
        _revcumsum_lanes(_flat1(g), pre, n, post, out)
        return out.reshape(x.shape)
    return impl


# =====================================================================
# Products
# =====================================================================

def _check_mm(a, b):
    if not (_isarr(a) and _isarr(b) and a.ndim in (1, 2) and b.ndim in (1, 2)):
        raise ValueError("srcgrad: matmul/dot adjoints need 1-D or 2-D arrays")


def matmul_grad_a(g, a, b):
    """Adjoint of ``a @ b`` (or ``np.dot(a, b)``) with respect to `a`, for 1-D/2-D
    a and b: vec.vec (g scalar) -> g*b; mat.vec -> outer(g, b); vec.mat -> b @ g;
    mat.mat -> g @ b.T. In a's dtype; computed in float32 only if g and b are."""
    _check_mm(a, b)
    g = np.asarray(g)
    if g.dtype != b.dtype:
        g, b = g.astype(_F64), b.astype(_F64)
    if a.ndim == 1 and b.ndim == 1:
        r = g * b
    elif b.ndim == 1:
        r = np.outer(g, b)
    elif a.ndim == 1:
        r = np.dot(b, g)
    else:
        r = np.dot(g, b.T)
    return np.asarray(r, dtype=a.dtype)


def matmul_grad_b(g, a, b):
    """Adjoint of ``a @ b`` with respect to `b`: vec.vec -> g*a; mat.vec ->
    a.T @ g; vec.mat -> outer(a, g); mat.mat -> a.T @ g. In b's dtype."""
    _check_mm(a, b)
    g = np.asarray(g)
    if g.dtype != a.dtype:
        g, a = g.astype(_F64), a.astype(_F64)
    if a.ndim == 1 and b.ndim == 1:
        r = g * a
    elif b.ndim == 1:
        r = np.dot(a.T, g)
    elif a.ndim == 1:
        r = np.outer(a, g)
    else:
        r = np.dot(a.T, g)
    return np.asarray(r, dtype=b.dtype)


@register_jitable
def _ident(v):
    return v


@register_jitable
def _contig(v):
    return np.ascontiguousarray(v)


@register_jitable
def _to64(v):
    return v.astype(np.float64)


@register_jitable
def _to32(v):
    return v.astype(np.float32)


def _blas_ready(t, ct):
    """Typing-time: the helper that makes array type `t` a BLAS operand of dtype
    `ct` (a cast if the dtypes differ, a contiguous copy if the layout is 'A')."""
    if _dt(t) is not ct:
        return _to64 if ct is np.float64 else _to32
    if t.layout == "A":
        return _contig
    return _ident


@register_jitable
def _dot_o_g(g, o):
    return np.dot(o, g)


@register_jitable
def _dot_g_oT(g, o):
    return np.dot(g, o.T)


@register_jitable
def _dot_oT_g(g, o):
    return np.dot(o.T, g)


@register_jitable
def _outer_into(u, v, out):
    for i in range(u.shape[0]):
        ui = u[i] * 1.0
        for j in range(v.shape[0]):
            out[i, j] = ui * v[j]


def _mm_overload(g, a, b, wrt_a):
    func = "matmul_grad_a" if wrt_a else "matmul_grad_b"
    _need(_is_arr(a) and _is_arr(b) and a.ndim in (1, 2) and b.ndim in (1, 2), func,
          "a and b must be 1-D or 2-D arrays")
    other = b if wrt_a else a
    dt = _dt(a if wrt_a else b)
    if a.ndim == 1 and b.ndim == 1:
        _need(not _is_arr(g), func, "g must be a scalar for vector @ vector")

        def impl_vv(g, a, b):
            o = _flat(b) if wrt_a else _flat(a)
            out = np.empty(o.shape[0], dt)
            for i in range(o.shape[0]):
                out[i] = g * o[i]
            return out
        return impl_vv
    _need(_is_arr(g), func, "g must be an array")
    if (wrt_a and b.ndim == 1) or (not wrt_a and a.ndim == 1):
        # mat.vec: outer(g, b) for a;  vec.mat: outer(a, g) for b
        def impl_outer(g, a, b):
            u = _flat(g) if wrt_a else _flat(a)
            v = _flat(b) if wrt_a else _flat(g)
            out = np.empty((u.shape[0], v.shape[0]), dt)
            _outer_into(u, v, out)
            return out
        return impl_outer
    ct = np.float32 if (_dt(g) is np.float32 and _dt(other) is np.float32) else np.float64
    prep_g = _blas_ready(g, ct)
    prep_o = _blas_ready(other, ct)
    if wrt_a:
        prod = _dot_o_g if a.ndim == 1 else _dot_g_oT   # b @ g  /  g @ b.T
    else:
        prod = _dot_oT_g                                 # a.T @ g
    same = dt is ct

    def impl(g, a, b):
        r = prod(prep_g(g), prep_o(b if wrt_a else a))
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


dot_grad_a = matmul_grad_a
dot_grad_b = matmul_grad_b


def outer_grad_a(g, a, b):
    """Adjoint of ``np.outer(a, b)`` (which flattens a and b) for `a`:
    ``g @ b.ravel()`` reshaped to a's shape and dtype (a float for a scalar a)."""
    bf = _pflat64(b)
    r = np.asarray(g, dtype=_F64) @ bf
    if not _isarr(a):
        return float(r[0])
    return r.reshape(a.shape).astype(a.dtype)


def outer_grad_b(g, a, b):
    """Adjoint of ``np.outer(a, b)`` for `b`: ``a.ravel() @ g`` shaped like b."""
    af = _pflat64(a)
    r = af @ np.asarray(g, dtype=_F64)
    if not _isarr(b):
        return float(r[0])
    return r.reshape(b.shape).astype(b.dtype)


@register_jitable
def _outer_grad_core(g, a, b, wrt_a):
    """float64 flat adjoint of np.outer(a, b) for a (wrt_a) or b."""
    u = _flat1(a)
    v = _flat1(b)
    m = u.shape[0]
    n = v.shape[0]
    if g.shape[0] != m or g.shape[1] != n:
        raise ValueError("srcgrad: adjoint shape does not match outer")
    gg = np.ascontiguousarray(g)
    if wrt_a:
        r = np.empty(m, np.float64)
        for i in range(m):
            s = 0.0
            for j in range(n):
                s += gg[i, j] * v[j]
            r[i] = s
        return r
    r = np.zeros(n, np.float64)
    for i in range(m):
        ui = u[i] * 1.0
        for j in range(n):
            r[j] += ui * gg[i, j]
    return r


def _outer_overload(g, a, b, wrt_a):
    _need(_is_arr(g) and g.ndim == 2, "outer_grad", "g must be a 2-D array")
    target = a if wrt_a else b
    if not _is_arr(target):
        return lambda g, a, b: _outer_grad_core(g, a, b, wrt_a)[0]
    dt = _dt(target)
    if wrt_a:
        return lambda g, a, b: _outer_grad_core(g, a, b, wrt_a).astype(dt).reshape(a.shape)
    return lambda g, a, b: _outer_grad_core(g, a, b, wrt_a).astype(dt).reshape(b.shape)


@overload(outer_grad_a)
def _ov_outer_grad_a(g, a, b):
    return _outer_overload(g, a, b, True)


@overload(outer_grad_b)
def _ov_outer_grad_b(g, a, b):
    return _outer_overload(g, a, b, False)


def trace_grad(g, x):
    """Adjoint of ``np.trace(x)`` for a 2-D x: g on the main diagonal, 0 elsewhere."""
    if not (_isarr(x) and x.ndim == 2):
        raise ValueError("srcgrad: trace_grad needs a 2-D x")
    out = np.zeros(x.shape, x.dtype)
    k = min(x.shape)
    out[np.arange(k), np.arange(k)] = g
    return out


@overload(trace_grad)
def _ov_trace_grad(g, x):
    _need(_is_arr(x) and x.ndim == 2, "trace_grad", "x must be a 2-D array")
    dt = _dt(x)

    def impl(g, x):
        out = np.zeros(x.shape, dt)
        for i in range(min(x.shape[0], x.shape[1])):
            out[i, i] = g
        return out
    return impl


def norm_grad(g, x, ans, ord):
    """Adjoint of ``np.linalg.norm(x, ord)``: ord None (vector L2, matrix
    Frobenius) or 2 (vector) -> ``x * (g / ans)``, NaN everywhere at x == 0 as in
    JAX; ord 1 (vector) -> ``select(x >= 0, g, -g)`` (slope +1 at 0, as JAX)."""
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
        raise ValueError("srcgrad: norm_grad supports ord None, 1 and 2 (vectors)"
                         " and None (matrices)")
    return r.reshape(x.shape).astype(x.dtype)


@register_jitable
def _l2_into(g, xf, ans, out):
    share = g / ans
    for k in range(xf.shape[0]):
        out[k] = xf[k] * share


@register_jitable
def _l1_into(g, xf, out):
    for k in range(xf.shape[0]):
        out[k] = g if xf[k] >= 0 else -g


@overload(norm_grad)
def _ov_norm_grad(g, x, ans, ord):
    _need(_is_arr(x) and x.ndim in (1, 2), "norm_grad", "x must be a 1-D or 2-D array")
    _need(not _is_arr(g) and not _is_arr(ans), "norm_grad", "g and ans must be scalars")
    dt = _dt(x)
    vec = x.ndim == 1
    if _is_none(ord):
        def impl_l2(g, x, ans, ord):
            xf = _flat(x)
            out = np.empty(xf.shape[0], dt)
            _l2_into(g * 1.0, xf, ans, out)
            return out.reshape(x.shape)
        return impl_l2

    def impl(g, x, ans, ord):
        xf = _flat(x)
        out = np.empty(xf.shape[0], dt)
        if vec and ord == 2:
            _l2_into(g * 1.0, xf, ans, out)
        elif vec and ord == 1:
            _l1_into(g * 1.0, xf, out)
        else:
            raise ValueError("srcgrad: norm_grad supports ord None, 1 and 2 (vectors)"
                             " and None (matrices)")
        return out.reshape(x.shape)
    return impl


# =====================================================================
# Shape operations
# =====================================================================

def transpose_grad(g):
    """Adjoint of ``x.T`` / ``np.transpose(x)``: ``g.T`` (a view); a scalar as is."""
    return g.T if _isarr(g) else g


@overload(transpose_grad)
def _ov_transpose_grad(g):
    if _is_arr(g):
        return lambda g: g.T
    return lambda g: g


def reshape_grad(g, x):
    """Adjoint of ``np.reshape(x, ...)``: g reshaped to x's shape (a view if g is
    contiguous and already in x's dtype, else a copy). A scalar x: a float."""
    if not _isarr(x):
        if np.size(g) != 1:
            _bad_scalar()
        return float(_pflat64(g)[0])
    if not _isarr(g):
        return np.full(x.shape, g, x.dtype)
    r = np.ascontiguousarray(g).reshape(x.shape)
    return r if r.dtype == x.dtype else r.astype(x.dtype)


@overload(reshape_grad)
def _ov_reshape_grad(g, x):
    if not _is_arr(x):
        def impl_scalar(g, x):
            gf = _flat1(g)
            if gf.shape[0] != 1:
                raise ValueError("srcgrad: adjoint of a scalar must have size 1")
            return gf[0] * 1.0
        return impl_scalar
    dt = _dt(x)
    if not _is_arr(g):
        return lambda g, x: np.full(x.shape, g, dt)
    if _dt(g) is dt:
        return lambda g, x: np.ascontiguousarray(g).reshape(x.shape)
    return lambda g, x: np.ascontiguousarray(g).reshape(x.shape).astype(dt)


def concatenate_grad(g, x, axis, start):
    """Adjoint of ``np.concatenate([..., x, ...], axis)`` for `x`: the slice of g
    along `axis` from `start` with x's extent (a new array in x's dtype). axis
    None (inputs flattened): g[start:start + x.size] reshaped to x's shape."""
    if axis is None:
        pre, big, post = 1, np.size(g), 1
        n = np.size(x)
    else:
        if not (_isarr(x) and _isarr(g) and g.ndim == x.ndim):
            raise ValueError("srcgrad: concatenate_grad needs arrays of equal ndim")
        pre, big, post = _lanes(g.shape, axis)
        n = x.shape[axis]
        ax = axis % g.ndim
        if g.shape[:ax] != x.shape[:ax] or g.shape[ax + 1:] != x.shape[ax + 1:]:
            raise ValueError("srcgrad: adjoint shape does not match concatenate")
    if start < 0 or start + n > big:
        raise ValueError("srcgrad: concatenate_grad slice out of range")
    piece = _pflat(g).reshape(pre, big, post)[:, start:start + n]
    if not _isarr(x):
        return float(piece[0, 0, 0])
    return piece.astype(x.dtype).reshape(x.shape)


@register_jitable
def _concat_lanes_flat(g, x, axis):
    return 1, _nelem(_shp(g)), 1, _nelem(_shp(x))


@register_jitable
def _concat_lanes_axis(g, x, axis):
    gs = _shp(g)
    xs = _shp(x)
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
    if _is_none(axis):
        lanes = _concat_lanes_flat
    else:
        _need(xarr and x.ndim == g.ndim, "concatenate_grad", "x and g must have equal ndim")
        lanes = _concat_lanes_axis

    def impl(g, x, axis, start):
        pre, big, post, n = lanes(g, x, axis)
        if start < 0 or start + n > big:
            raise ValueError("srcgrad: concatenate_grad slice out of range")
        out = np.empty(pre * n * post, dt)
        _take_lanes(_flat(g), pre, big, post, start, n, out)
        return out.reshape(x.shape)

    def impl_scalar(g, x, axis, start):
        pre, big, post, n = lanes(g, x, axis)
        if start < 0 or start + n > big:
            raise ValueError("srcgrad: concatenate_grad slice out of range")
        out = np.empty(pre * n * post, dt)
        _take_lanes(_flat(g), pre, big, post, start, n, out)
        return out[0]
    return impl if xarr else impl_scalar


def stack_grad(g, axis, k):
    """Adjoint of ``np.stack([...], axis)`` for its k-th input: ``g``'s k-th slice
    along `axis` (a new array in g's dtype; a float if g is 1-D)."""
    pre, big, post = _lanes(g.shape, axis)
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
    gs = _shp(g)
    nd = gs.shape[0]
    pre, big, post = _axis_lanes(gs, axis)
    if k < 0 or k >= big:
        raise ValueError("srcgrad: stack_grad index out of range")
    _take_lanes(_flat(g), pre, big, post, k, 1, out)
    ax = axis if axis >= 0 else axis + nd
    rs = np.empty(nd - 1, np.intp)
    for d in range(nd - 1):
        rs[d] = gs[d if d < ax else d + 1]
    return rs


@overload(stack_grad)
def _ov_stack_grad(g, axis, k):
    _need(_is_arr(g), "stack_grad", "g must be an array")
    nd = g.ndim
    nd1 = nd - 1
    dt = _dt(g)

    def impl(g, axis, k):
        pre, big, post = _axis_lanes(_shp(g), axis)
        out = np.empty(pre * post, dt)
        rs = _stack_take(g, axis, k, out)
        return out.reshape(to_fixed_tuple(rs, nd1))

    def impl_1d(g, axis, k):
        out = np.empty(1, dt)
        _stack_take(g, axis, k, out)
        return out[0] * 1.0
    return impl_1d if nd == 1 else impl


# =====================================================================
# Elementwise rules (broadcasting; JAX conventions at ties)
# =====================================================================

@register_jitable
def _gt_mask(a, b):
    """d maximum(a, b) / da, JAX's balanced rule: 1, 0.5 at a tie, else 0 (NaN: 0)."""
    if a > b:
        return 1.0
    if a == b:
        return 0.5
    return 0.0


def _p_gt_mask(a, b):
    return np.where(np.greater(a, b), 1.0, np.where(np.equal(a, b), 0.5, 0.0))


def _clip_lo(x, lo):
    return 1.0 if lo is None else _p_gt_mask(x, lo)


@overload(_clip_lo)
def _ov_clip_lo(x, lo):
    if _is_none(lo):
        return lambda x, lo: 1.0
    return lambda x, lo: _gt_mask(x, lo)


def _clip_hi(x, hi):
    return 1.0 if hi is None else _p_gt_mask(hi, x)


@overload(_clip_hi)
def _ov_clip_hi(x, hi):
    if _is_none(hi):
        return lambda x, hi: 1.0
    return lambda x, hi: _gt_mask(hi, x)


def _plain_ew(value, g, *args):
    """Plain-Python result: a float if all arguments are scalars, else an array
    of the broadcast shape in g's dtype (float64 for a scalar g)."""
    if not (_isarr(g) or any(_isarr(a) for a in args)):
        return float(value)
    dt = g.dtype if _isarr(g) else _F64
    shape = np.broadcast_shapes(np.shape(g), *(np.shape(a) for a in args if a is not None))
    out = np.empty(shape, dt)
    out[...] = value
    return out


def _ew_nd(*ts):
    """Typing-time: (any array among ts, max ndim)."""
    nds = [t.ndim for t in ts if _is_arr(t)]
    return bool(nds), max(nds, default=0)


@register_jitable
def _k_gt(g, a, b, out):
    for k in range(out.shape[0]):
        out[k] = _at(g, k) * _gt_mask(_at(a, k), _at(b, k))


def _gt_overload(g, x, y, swap):
    anyarr, nd = _ew_nd(g, x, y)
    if not anyarr:
        if swap:
            return lambda g, x, y: g * _gt_mask(y, x)
        return lambda g, x, y: g * _gt_mask(x, y)
    dt = _out_dt(g)

    def impl(g, x, y):
        sh = _bshape(_bshape(_shp(g), _shp(x)), _shp(y))
        out = np.empty(_nelem(sh), dt)
        gg = _operand(g, sh)
        if swap:
            _k_gt(gg, _operand(y, sh), _operand(x, sh), out)
        else:
            _k_gt(gg, _operand(x, sh), _operand(y, sh), out)
        return out.reshape(to_fixed_tuple(sh, nd))
    return impl


def maximum_grad_x(g, x, y):
    """Adjoint of ``np.maximum(x, y)`` for x: g * (1 if x > y, 0.5 if x == y,
    else 0) — JAX's balanced tie rule; 0 where x or y is NaN."""
    return _plain_ew(g * _p_gt_mask(x, y), g, x, y)


@overload(maximum_grad_x)
def _ov_maximum_grad_x(g, x, y):
    return _gt_overload(g, x, y, False)


def maximum_grad_y(g, x, y):
    """Adjoint of ``np.maximum(x, y)`` for y: g * (1 if y > x, 0.5 at a tie)."""
    return _plain_ew(g * _p_gt_mask(y, x), g, x, y)


@overload(maximum_grad_y)
def _ov_maximum_grad_y(g, x, y):
    return _gt_overload(g, x, y, True)


def minimum_grad_x(g, x, y):
    """Adjoint of ``np.minimum(x, y)`` for x: g * (1 if x < y, 0.5 at a tie)."""
    return _plain_ew(g * _p_gt_mask(y, x), g, x, y)


@overload(minimum_grad_x)
def _ov_minimum_grad_x(g, x, y):
    return _gt_overload(g, x, y, True)


def minimum_grad_y(g, x, y):
    """Adjoint of ``np.minimum(x, y)`` for y: g * (1 if y < x, 0.5 at a tie)."""
    return _plain_ew(g * _p_gt_mask(x, y), g, x, y)


@overload(minimum_grad_y)
def _ov_minimum_grad_y(g, x, y):
    return _gt_overload(g, x, y, False)


@register_jitable
def _k_clip(g, x, lo, hi, out):
    for k in range(out.shape[0]):
        xk = _at(x, k)
        out[k] = _at(g, k) * (_clip_lo(xk, _at(lo, k)) * _clip_hi(xk, _at(hi, k)))


def clip_grad(g, x, lo, hi):
    """Adjoint of ``np.clip(x, lo, hi)`` for x, with JAX's definition
    ``minimum(maximum(x, lo), hi)``: g * m_lo * m_hi where m_lo is 1 / 0.5 / 0 for
    x > lo / x == lo / x < lo and m_hi likewise for x < hi / x == hi / x > hi.
    So 0.5 at x == lo or x == hi, 0.25 at lo == x == hi, 0 when lo > hi or x is
    NaN. lo or hi may be None."""
    return _plain_ew(g * (_clip_lo(x, lo) * _clip_hi(x, hi)), g, x, lo, hi)


@overload(clip_grad)
def _ov_clip_grad(g, x, lo, hi):
    anyarr, nd = _ew_nd(g, x, lo, hi)
    if not anyarr:
        return lambda g, x, lo, hi: g * (_clip_lo(x, lo) * _clip_hi(x, hi))
    dt = _out_dt(g)

    def impl(g, x, lo, hi):
        sh = _bshape(_bshape(_bshape(_shp(g), _shp(x)), _shp(lo)), _shp(hi))
        out = np.empty(_nelem(sh), dt)
        _k_clip(_operand(g, sh), _operand(x, sh), _operand(lo, sh), _operand(hi, sh), out)
        return out.reshape(to_fixed_tuple(sh, nd))
    return impl


@register_jitable
def _k_where(g, c, out, take):
    for k in range(out.shape[0]):
        if (_at(c, k) != 0) == take:
            out[k] = _at(g, k)
        else:
            out[k] = 0.0


def _where_overload(g, c, take):
    anyarr, nd = _ew_nd(g, c)
    if not anyarr:
        return lambda g, c: g * 1.0 if (c != 0) == take else 0.0
    dt = _out_dt(g)

    def impl(g, c):
        sh = _bshape(_shp(g), _shp(c))
        out = np.empty(_nelem(sh), dt)
        _k_where(_operand(g, sh), _operand(c, sh), out, take)
        return out.reshape(to_fixed_tuple(sh, nd))
    return impl


def where_grad_x(g, c):
    """Adjoint of ``np.where(c, x, y)`` for x: g where c is true, else 0 (a select,
    as JAX: an inf/NaN g does not leak into the other positions)."""
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


@register_jitable
def _k_abs(g, x, out):
    for k in range(out.shape[0]):
        gk = _at(g, k)
        out[k] = gk if _at(x, k) >= 0 else -gk


def abs_grad(g, x):
    """Adjoint of ``np.abs(x)``: ``g if x >= 0 else -g`` (JAX: slope +1 at 0 and
    at -0.0; -g at NaN)."""
    return _plain_ew(np.where(np.greater_equal(x, 0), g, np.negative(g)), g, x)


@overload(abs_grad)
def _ov_abs_grad(g, x):
    anyarr, nd = _ew_nd(g, x)
    if not anyarr:
        return lambda g, x: g * 1.0 if x >= 0 else -g * 1.0
    dt = _out_dt(g)

    def impl(g, x):
        sh = _bshape(_shp(g), _shp(x))
        out = np.empty(_nelem(sh), dt)
        _k_abs(_operand(g, sh), _operand(x, sh), out)
        return out.reshape(to_fixed_tuple(sh, nd))
    return impl


def sign_like_zero(g, x):
    """The zero adjoint of a piecewise-constant function (np.sign, np.floor, ...):
    zeros of x's shape and dtype; 0.0 for a scalar x."""
    return np.zeros(x.shape, x.dtype) if _isarr(x) else 0.0


@overload(sign_like_zero)
def _ov_sign_like_zero(g, x):
    if _is_arr(x):
        dt = _dt(x)
        return lambda g, x: np.zeros(x.shape, dt)
    return lambda g, x: 0.0
