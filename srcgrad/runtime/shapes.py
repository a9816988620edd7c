"""NumPy's shape and order functions in compiled code, and the helpers of their derivative rules.

The normalizer writes a call such as ``np.flip(x, axis=1)``, ``np.take(x, idx, axis=0)`` or
``np.sort(x, axis=0)`` as a call to the function of the same name here, every argument
positional (``compiler.normalize.SHAPE_CALLS``), where Numba lacks the function or some of
its arguments. Every function is a plain Python function (what runs with ``jit=False``:
NumPy itself where NumPy has the function) with a ``numba.extending.overload`` for
compiled code, or one ``register_jitable`` function that serves both.

Gathers
    Most of these functions copy elements of ``x`` to new places (flip, roll, take,
    repeat, tile, delete, insert, diagonal, the parts of split ...). The adjoint of such a
    gather adds ``g`` back to where each element came from, and the function itself says
    where: run on ``positions(x)`` (1, 2, ..., x.size in x's shape) it returns the source
    of each element of its result, 0 where it writes a zero. So each ``*_grad`` helper is
    ``scatter(g, f(positions(x), ...), x)``: one scatter kernel for all of them, in both
    modes, and repeated sources (np.take with repeated indices, np.repeat, np.tile) add
    up. The compiled gathers compute a flat source map (``_affine_src``, ``_along``) and
    copy through it, so each compiles once per dtype whatever the ndim.

Orders
    np.sort and np.partition scatter back through the permutation that took ``x`` to the
    result, found from the values (``source_index``: stable, so tied elements keep their
    order, as JAX's sort). Numba's np.partition orders the elements around the kth one
    differently from NumPy's; matching by value gives each result the derivative of its
    own values.

Scans
    ``cumprod`` is the recurrence ``y_k = x_k y_(k-1)``; its tangent is the linear
    recurrence ``linrec(x, dx * shift(y, 1.0))`` (``z_k = a_k z_(k-1) + b_k``) and its
    adjoint the reverse recurrence ``linrec_adj``: no division, so exact where x holds
    zeros (as JAX's). linrec's own tangent is again a linrec, so every order works.

Sets
    np.unique and the set functions return sorted values; the adjoint of each goes to the
    first occurrence of that value in ``(a, b)`` (``occurrence_grad``), which is what
    ``jax.grad`` of ``jnp.unique`` and its kin gives.

Arrays are float64 or float32 (results keep x's dtype; adjoints are summed in float64 and
rounded once), of any ndim; axes may be negative. Only ``ValueError``/``IndexError`` are
raised at run time; argument types that cannot work raise a ``TypingError`` when the caller
compiles (np.squeeze without an axis, whose result's ndim depends on the shape).
"""

from __future__ import annotations

import functools

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable
from numba.np.arrayobj import reshape_unchecked
from numba.np.numpy_support import as_dtype
from numba.np.unsafe.ndarray import to_fixed_tuple

from .arrays import flat, is_none_type, lanes, shape_array

__all__ = [
    "positions", "scatter",
    "flip", "squeeze", "moveaxis", "rot90", "roll", "repeat", "tile", "delete", "insert",
    "take", "take_along_axis", "diagonal", "split_part", "trim_zeros",
    "flip_grad", "roll_grad", "rot90_grad", "repeat_grad", "tile_grad", "delete_grad",
    "insert_grad", "insert_values_grad", "take_grad", "take_along_axis_grad",
    "diagonal_grad", "diag_grad", "diagflat_grad", "resize_grad", "extract_grad",
    "split_part_grad", "trim_zeros_grad",
    "sort", "partition", "source_index", "argsort",
    "diff", "diff_grad", "cumprod", "linrec", "linrec_adj", "shift", "shift_grad",
    "nan_fill", "powers", "powers_grad", "vander_powers",
    "union1d", "intersect1d", "setdiff1d", "setxor1d", "occurrence_take", "occurrence_grad",
    "astype", "item",
    "SPLIT", "ARRAY_SPLIT", "HSPLIT", "VSPLIT", "DSPLIT",
]

# the split functions, as split_part's `kind`
SPLIT, ARRAY_SPLIT, HSPLIT, VSPLIT, DSPLIT = 0, 1, 2, 3, 4


# =====================================================================
# Typing-time helpers (on Numba types)
# =====================================================================

def _is_arr(t):
    return isinstance(t, types.Array)


def _is_int(t):
    return isinstance(t, types.Integer)


def _is_int_seq(t):
    """A UniTuple of ints or a 1-D integer array (a list literal becomes a tuple)."""
    return isinstance(t, types.UniTuple) and _is_int(t.dtype) \
        or _is_arr(t) and t.ndim == 1 and _is_int(t.dtype)


def _need(cond, func, msg):
    if not cond:
        raise TypingError(f"srcgrad.runtime.shapes.{func}: {msg}")


def _ndim(t):
    return t.ndim if _is_arr(t) else 0


def _dtype(t):
    """The NumPy dtype of an array's elements, or of a number."""
    return as_dtype(t.dtype) if _is_arr(t) else as_dtype(t)


def _seq_len(t):
    """The static length of an int sequence type (tuples only), or None."""
    return t.count if isinstance(t, types.UniTuple) else None


@functools.cache
def _shaper(nd):
    """A jitted ``f(flat, shape)``: `flat` in `shape` (an intp array of nd entries); its
    one element for nd 0."""
    if nd == 0:
        def first(out, shape):
            return out[0]
        return register_jitable(first)

    def shaped(out, shape):
        return out.reshape(to_fixed_tuple(shape, nd))
    return register_jitable(shaped)


# =====================================================================
# Lengths of scalarized loops (compiler/scalarize.py): integers only
# =====================================================================

@register_jitable
def slice_lo(n, start, stop):
    """The first index of ``x[start:stop]`` along a dimension of length n (Python's
    rules: negative bounds count from the end, bounds are clipped)."""
    lo = start + n if start < 0 else start
    return min(max(lo, 0), n)


@register_jitable
def slice_len(n, start, stop):
    """The length of ``x[start:stop]`` along a dimension of length n."""
    lo = slice_lo(n, start, stop)
    hi = stop + n if stop < 0 else stop
    hi = min(max(hi, 0), n)
    return max(hi - lo, 0)


@register_jitable
def wrap_index(n, i):
    """An integer index along a dimension of length n, negative ones from the end;
    IndexError outside, as NumPy's."""
    j = i + n if i < 0 else i
    if j < 0 or j >= n:
        raise IndexError("index out of bounds")
    return j


@register_jitable
def bcast_len(a, b):
    """The length two broadcast dimensions give (NumPy's rule: equal, or one is 1)."""
    if a == b or b == 1:
        return a
    if a == 1:
        return b
    raise ValueError("operands could not be broadcast together")


@register_jitable
def bstride_to(m, n):
    """The index step, in a loop of length n, of an operand dimension of length m: 1 when
    m is n, 0 when m is 1 (its one element serves every position); NumPy's ValueError
    otherwise."""
    if m == n:
        return 1
    if m == 1:
        return 0
    raise ValueError("operands could not be broadcast together")


# =====================================================================
# Compiled building blocks (explicit loops over flat C data, intp shape arrays)
# =====================================================================

@register_jitable
def _axis(axis, nd):
    if axis < -nd or axis >= nd:
        raise ValueError("srcgrad: axis out of bounds")
    return axis + nd if axis < 0 else axis


@register_jitable
def _cstrides(shape):
    """Element strides of a C array of `shape`."""
    nd = shape.shape[0]
    st = np.empty(nd, np.intp)
    s = 1
    for d in range(nd - 1, -1, -1):
        st[d] = s
        s *= shape[d]
    return st


@register_jitable
def _size(shape):
    n = 1
    for d in range(shape.shape[0]):
        n *= shape[d]
    return n


@register_jitable
def _with(shape, ax, n):
    """`shape` with entry ax replaced by n."""
    out = shape.copy()
    out[ax] = n
    return out


@register_jitable
def _along(shape, ax, pos):
    """The flat sources of a gather of the indices `pos` along axis ax of a C array of
    `shape` (pos[k] < 0: no source)."""
    pre, n, post = lanes(shape, ax)
    m = pos.shape[0]
    src = np.empty(pre * m * post, np.intp)
    t = 0
    for p in range(pre):
        for k in range(m):
            base = (p * n + pos[k]) * post
            for q in range(post):
                src[t] = base + q if pos[k] >= 0 else -1
                t += 1
    return src


@register_jitable
def _affine_src(out_shape, in_shape, perm, sign, off):
    """The flat sources of the gather ``out[I] = in[J]``, ``J_d = (sign_d * I[perm_d] +
    off_d) mod in_shape_d``: flips (sign -1), rolls (off), tiles (the mod), transposes
    (perm), in one pass over the output with an odometer."""
    nd = out_shape.shape[0]
    size = _size(out_shape)
    src = np.empty(size, np.intp)
    if size == 0:
        return src
    st = _cstrides(in_shape)
    idx = np.zeros(nd, np.intp)
    for k in range(size):
        s = 0
        for d in range(nd):
            j = (sign[d] * idx[perm[d]] + off[d]) % in_shape[d]
            s += j * st[d]
        src[k] = s
        d = nd - 1
        while d >= 0:
            idx[d] += 1
            if idx[d] < out_shape[d]:
                break
            idx[d] = 0
            d -= 1
    return src


@register_jitable
def _gather(xf, src):
    """xf[src] (0 where src < 0)."""
    out = np.empty(src.shape[0], xf.dtype)
    for k in range(src.shape[0]):
        j = src[k]
        out[k] = xf[j] if j >= 0 else 0
    return out


@register_jitable
def _identity(nd):
    return np.arange(nd)


# =====================================================================
# Positions and the scatter: the adjoint of every gather
# =====================================================================

def positions(x):
    """1, 2, ..., x.size in x's shape (1 for a number): run through a gather, the source
    of each element of its result, 0 where it writes a zero."""
    return np.arange(1, np.size(x) + 1).reshape(np.shape(x))


@overload(positions)
def _ov_positions(x):
    if _is_arr(x):
        return lambda x: np.arange(1, x.size + 1).reshape(x.shape)
    return lambda x: 1


def scatter(g, src, x):
    """The adjoint of a gather with sources `src` (positions run through it): g added at
    each source (repeated ones add up), in x's shape and dtype; a float for a number x."""
    src = np.ravel(src) - 1
    w = np.ravel(np.asarray(g, dtype=np.float64))
    if w.size != src.size:
        raise ValueError("srcgrad: adjoint shape does not match the gather")
    keep = src >= 0
    out = np.bincount(src[keep], weights=w[keep], minlength=np.size(x))
    if not isinstance(x, np.ndarray):
        return float(out[0])
    return out.reshape(x.shape).astype(x.dtype)


@register_jitable
def _scatter_flat(gf, sf, n):
    if gf.shape[0] != sf.shape[0]:
        raise ValueError("srcgrad: adjoint shape does not match the gather")
    out = np.zeros(n, np.float64)
    for k in range(sf.shape[0]):
        j = sf[k] - 1
        if j >= 0:
            out[j] += gf[k]
    return out


@overload(scatter)
def _ov_scatter(g, src, x):
    src_flat = (lambda s: flat(s)) if _is_arr(src) else (lambda s: np.full(1, s, np.intp))
    src_flat = register_jitable(src_flat)
    if not _is_arr(x):
        return lambda g, src, x: _scatter_flat(flat(g), src_flat(src), 1)[0]
    dt = _dtype(x)
    return lambda g, src, x: _scatter_flat(flat(g), src_flat(src), x.size).astype(dt) \
        .reshape(x.shape)


# =====================================================================
# Int sequences and axes in compiled code
# =====================================================================

def _ints(v):
    return np.atleast_1d(np.asarray(v, dtype=np.intp))


@overload(_ints)
def _ov_ints(v):
    """An int, a tuple of ints or an int array as a 1-D intp array."""
    if _is_int(v):
        return lambda v: np.full(1, v, np.intp)
    if isinstance(v, types.UniTuple) and _is_int(v.dtype):
        def impl_tuple(v):
            out = np.empty(len(v), np.intp)
            for k in range(len(v)):
                out[k] = v[k]
            return out
        return impl_tuple
    if _is_arr(v) and _is_int(v.dtype):
        return lambda v: flat(v).astype(np.intp)
    raise TypingError(f"srcgrad.runtime.shapes: expected an int, a tuple of ints or an int "
                      f"array, got {v}")


@register_jitable
def _axes(axes, nd):
    """Axes (an intp array) normalized, each once."""
    out = np.empty(axes.shape[0], np.intp)
    seen = np.zeros(nd, np.bool_)
    for k in range(axes.shape[0]):
        a = _axis(axes[k], nd)
        if seen[a]:
            raise ValueError("srcgrad: repeated axis")
        seen[a] = True
        out[k] = a
    return out


@register_jitable
def _wrap(i, n):
    if i < -n or i >= n:
        raise IndexError("srcgrad: index out of bounds")
    return i + n if i < 0 else i


def _flat_input(x, axis, func):
    """Typing time: (x's ndim as gathered, a jitted ``f(x, axis) -> (flat data, shape, axis)``):
    axis None gathers from x flattened (a number is one element)."""
    if is_none_type(axis):
        if _is_arr(x):
            return 1, register_jitable(lambda x, axis: (flat(x), np.full(1, x.size, np.intp), 0))
        dt = _dtype(x)
        return 1, register_jitable(lambda x, axis: (np.full(1, x, dt), np.ones(1, np.intp), 0))
    _need(_is_arr(x) and _is_int(axis), func, f"expected an array and an int axis, got {x}, "
          f"{axis}")
    nd = x.ndim
    return nd, register_jitable(lambda x, axis: (flat(x), shape_array(x), _axis(axis + 0, nd)))


# =====================================================================
# Gathers
# =====================================================================

def flip(x, axis=None):
    """np.flip(x, axis): axis None (every axis), an int or a tuple of ints."""
    return np.flip(x, axis)


@overload(flip)
def _ov_flip(x, axis=None):
    _need(_is_arr(x), "flip", f"x must be an array, got {x}")
    nd = x.ndim
    shaped = _shaper(nd)
    if is_none_type(axis):
        flipped = register_jitable(lambda axis: np.arange(nd))
    else:
        _need(_is_int(axis) or _is_int_seq(axis), "flip", f"axis must be ints, got {axis}")
        flipped = register_jitable(lambda axis: _axes(_ints(axis), nd))

    def impl(x, axis=None):
        shape = shape_array(x)
        sign = np.ones(nd, np.intp)
        off = np.zeros(nd, np.intp)
        for a in flipped(axis):
            sign[a] = -1
            off[a] = shape[a] - 1
        src = _affine_src(shape, shape, _identity(nd), sign, off)
        return shaped(_gather(flat(x), src), shape)
    return impl


def squeeze(x, axis):
    """np.squeeze(x, axis) for an int or a tuple of ints (a view). Without an axis the
    result's number of dimensions depends on x's shape, which compiled code must know."""
    return np.squeeze(x, axis)


@overload(squeeze)
def _ov_squeeze(x, axis=None):
    _need(_is_arr(x), "squeeze", f"x must be an array, got {x}")
    _need(not is_none_type(axis), "squeeze", "pass the axis to squeeze: compiled code must "
          "know the number of dimensions of the result, and without an axis it depends on "
          "the shape")
    _need(_is_int(axis) or isinstance(axis, types.UniTuple) and _is_int(axis.dtype),
          "squeeze", f"axis must be an int or a tuple of ints, got {axis}")
    nd = x.ndim
    count = 1 if _is_int(axis) else axis.count
    out_nd = nd - count
    _need(out_nd >= 0, "squeeze", "more axes than dimensions")

    def impl(x, axis=None):
        drop = np.zeros(nd, np.bool_)
        for a in _axes(_ints(axis), nd):
            if x.shape[a] != 1:
                raise ValueError("cannot select an axis to squeeze out which has size not "
                                 "equal to one")
            drop[a] = True
        shape = np.empty(out_nd, np.intp)
        strides = np.empty(out_nd, np.intp)
        k = 0
        for d in range(nd):
            if not drop[d]:
                shape[k] = x.shape[d]
                strides[k] = x.strides[d]
                k += 1
        return reshape_unchecked(x, to_fixed_tuple(shape, out_nd),
                                 to_fixed_tuple(strides, out_nd))
    return impl


def moveaxis(x, source, destination):
    """np.moveaxis(x, source, destination) (a view), ints or tuples of ints."""
    return np.moveaxis(x, source, destination)


@register_jitable
def _moved(source, destination, nd):
    """The permutation of axes np.moveaxis makes."""
    src = _axes(_ints(source), nd)
    dst = _axes(_ints(destination), nd)
    if src.shape[0] != dst.shape[0]:
        raise ValueError("`source` and `destination` arguments must have the same number "
                         "of elements")
    perm = np.full(nd, -1, np.intp)
    used = np.zeros(nd, np.bool_)
    for k in range(src.shape[0]):
        perm[dst[k]] = src[k]
        used[src[k]] = True
    j = 0
    for d in range(nd):
        if perm[d] < 0:
            while used[j]:
                j += 1
            perm[d] = j
            j += 1
    return perm


@overload(moveaxis)
def _ov_moveaxis(x, source, destination):
    _need(_is_arr(x), "moveaxis", f"x must be an array, got {x}")
    nd = x.ndim

    def impl(x, source, destination):
        perm = _moved(source, destination, nd)
        shape = np.empty(nd, np.intp)
        strides = np.empty(nd, np.intp)
        for d in range(nd):
            shape[d] = x.shape[perm[d]]
            strides[d] = x.strides[perm[d]]
        return reshape_unchecked(x, to_fixed_tuple(shape, nd), to_fixed_tuple(strides, nd))
    return impl


def rot90(x, k=1, axes=(0, 1)):
    """np.rot90(x, k, axes)."""
    return np.rot90(x, k, axes)


@register_jitable
def _rot90_src(shape, k, a, b):
    """(sources, result shape) of np.rot90 in the plane of axes a, b."""
    nd = shape.shape[0]
    k = k % 4
    perm = _identity(nd)
    sign = np.ones(nd, np.intp)
    off = np.zeros(nd, np.intp)
    out = shape.copy()
    if k == 1 or k == 3:
        out[a] = shape[b]
        out[b] = shape[a]
        perm[a] = b
        perm[b] = a
        flip_axis = b if k == 1 else a
        sign[flip_axis] = -1
        off[flip_axis] = shape[flip_axis] - 1
    elif k == 2:
        sign[a] = -1
        sign[b] = -1
        off[a] = shape[a] - 1
        off[b] = shape[b] - 1
    return _affine_src(out, shape, perm, sign, off), out


@overload(rot90)
def _ov_rot90(x, k=1, axes=(0, 1)):
    _need(_is_arr(x) and x.ndim >= 2, "rot90", f"x must have 2 or more dimensions, got {x}")
    nd = x.ndim
    shaped = _shaper(nd)

    def impl(x, k=1, axes=(0, 1)):
        ax = _ints(axes)
        if ax.shape[0] != 2:
            raise ValueError("len(axes) must be 2.")
        a = _axis(ax[0], nd)
        b = _axis(ax[1], nd)
        if a == b:
            raise ValueError("Axes must be different.")
        src, out = _rot90_src(shape_array(x), k, a, b)
        return shaped(_gather(flat(x), src), out)
    return impl


def roll(x, shift, axis=None):
    """np.roll(x, shift, axis): axis None rolls x flattened; ints, or tuples of them
    (broadcast together; an axis given twice adds its shifts)."""
    return np.roll(x, shift, axis)


@overload(roll)
def _ov_roll(x, shift, axis=None):
    _need(_is_arr(x), "roll", f"x must be an array, got {x}")
    nd = x.ndim
    shaped = _shaper(nd)
    if is_none_type(axis):
        def impl_flat(x, shift, axis=None):
            n = x.size
            total = np.sum(_ints(shift))
            one = np.ones(1, np.intp)
            src = _affine_src(np.full(1, n, np.intp), np.full(1, n, np.intp),
                              np.zeros(1, np.intp), one, np.full(1, -total, np.intp)) \
                if n > 0 else np.empty(0, np.intp)
            return shaped(_gather(flat(x), src), shape_array(x))
        return impl_flat

    def impl(x, shift, axis=None):
        shape = shape_array(x)
        shifts = _ints(shift)
        ax = _ints(axis)
        m = max(shifts.shape[0], ax.shape[0])
        if (shifts.shape[0] != m and shifts.shape[0] != 1) or (ax.shape[0] != m and ax.shape[0] != 1):
            raise ValueError("'shift' and 'axis' should be scalars or 1D sequences")
        off = np.zeros(nd, np.intp)
        for j in range(m):
            a = _axis(ax[j if ax.shape[0] > 1 else 0], nd)
            off[a] -= shifts[j if shifts.shape[0] > 1 else 0]
        src = _affine_src(shape, shape, _identity(nd), np.ones(nd, np.intp), off)
        return shaped(_gather(flat(x), src), shape)
    return impl


def tile(x, reps):
    """np.tile(x, reps), reps an int or a tuple of ints."""
    return np.tile(x, reps)


@overload(tile)
def _ov_tile(x, reps):
    xnd = _ndim(x)
    _need(_is_int(reps) or isinstance(reps, types.UniTuple) and _is_int(reps.dtype), "tile",
          f"reps must be an int or a tuple of ints, got {reps}")
    nd = max(xnd, 1 if _is_int(reps) else reps.count)
    shaped = _shaper(nd)
    dt = _dtype(x)
    data = register_jitable(lambda x: flat(x)) if _is_arr(x) \
        else register_jitable(lambda x: np.full(1, x, dt))

    def impl(x, reps):
        r = _ints(reps)
        xs = shape_array(x)
        inner = np.ones(nd, np.intp)
        out = np.ones(nd, np.intp)
        for d in range(xs.shape[0]):
            inner[nd - xs.shape[0] + d] = xs[d]
        for d in range(r.shape[0]):
            if r[d] < 0:
                raise ValueError("negative dimensions are not allowed")
            out[nd - r.shape[0] + d] = r[d]
        for d in range(nd):
            out[d] *= inner[d]
        src = _affine_src(out, inner, _identity(nd), np.ones(nd, np.intp),
                          np.zeros(nd, np.intp)) if _size(inner) > 0 \
            else np.empty(0, np.intp)
        return shaped(_gather(data(x), src), out)
    return impl


def _gather_axis_overload(x, axis, func, positions_of, out_nd=None):
    """The overload of a gather of positions along an axis (axis None: x flattened):
    `positions_of(n, *args)` (jitted) gives the positions for an axis of length n."""
    nd, unpack = _flat_input(x, axis, func)
    shaped = _shaper(nd if out_nd is None else out_nd)

    def gather(x, axis, a, b):
        xf, shape, ax = unpack(x, axis)
        pos = positions_of(shape[ax], a, b)
        return shaped(_gather(xf, _along(shape, ax, pos)), _with(shape, ax, pos.shape[0]))
    return register_jitable(gather)


def repeat(x, repeats, axis=None):
    """np.repeat(x, repeats, axis): repeats an int or one int per element along the axis."""
    return np.repeat(x, repeats, axis)


@register_jitable
def _repeat_positions(n, repeats, unused):
    r = _ints(repeats)
    if r.shape[0] != 1 and r.shape[0] != n:
        raise ValueError("operands could not be broadcast together")
    total = 0
    for i in range(n):
        c = r[i if r.shape[0] > 1 else 0]
        if c < 0:
            raise ValueError("repeats may not contain negative values.")
        total += c
    pos = np.empty(total, np.intp)
    t = 0
    for i in range(n):
        for _ in range(r[i if r.shape[0] > 1 else 0]):
            pos[t] = i
            t += 1
    return pos


@overload(repeat)
def _ov_repeat(x, repeats, axis=None):
    gather = _gather_axis_overload(x, axis, "repeat", _repeat_positions)
    return lambda x, repeats, axis=None: gather(x, axis, repeats, 0)


def delete(x, obj, axis=None):
    """np.delete(x, obj, axis): obj an int, ints, or a boolean mask along the axis."""
    return np.delete(x, obj, axis)


def _kept_overload(obj):
    if _is_arr(obj) and isinstance(obj.dtype, types.Boolean):
        _need(obj.ndim == 1, "delete", "a boolean obj must be 1-D")

        def kept_mask(n, obj, unused):
            if obj.shape[0] != n:
                raise ValueError("boolean array argument obj to delete must be one "
                                 "dimensional and match the axis length")
            return np.nonzero(~obj)[0].astype(np.intp)
        return register_jitable(kept_mask)

    def kept(n, obj, unused):
        keep = np.ones(n, np.bool_)
        for i in _ints(obj):
            keep[_wrap(i, n)] = False
        return np.nonzero(keep)[0].astype(np.intp)
    return register_jitable(kept)


@overload(delete)
def _ov_delete(x, obj, axis=None):
    gather = _gather_axis_overload(x, axis, "delete", _kept_overload(obj))
    return lambda x, obj, axis=None: gather(x, axis, obj, 0)


def take(x, indices, axis=None):
    """np.take(x, indices, axis): an int index (the axis is dropped) or an int array or
    tuple of them (its shape takes the axis' place); axis None takes from x flattened."""
    return np.take(x, indices, axis)


@overload(take)
def _ov_take(x, indices, axis=None):
    _need(_is_int(indices) or (_is_arr(indices) and _is_int(indices.dtype))
          or isinstance(indices, types.UniTuple) and _is_int(indices.dtype), "take",
          f"indices must be an int, ints or an int array, got {indices}")
    ind = 0 if _is_int(indices) else _ndim(indices) or 1
    nd, unpack = _flat_input(x, axis, "take")
    out_nd = nd - 1 + ind
    shaped = _shaper(out_nd)
    ishape = register_jitable(lambda v: shape_array(v)) if _is_arr(indices) \
        else register_jitable(lambda v: np.full(ind, len(_ints(v)), np.intp))

    def impl(x, indices, axis=None):
        xf, shape, ax = unpack(x, axis)
        n = shape[ax]
        pos = _ints(indices)
        for k in range(pos.shape[0]):
            pos[k] = _wrap(pos[k], n)
        src = _along(shape, ax, pos)
        out = np.empty(out_nd, np.intp)
        idx = ishape(indices)
        for d in range(ax):
            out[d] = shape[d]
        for d in range(ind):
            out[ax + d] = idx[d]
        for d in range(ax + 1, shape.shape[0]):
            out[d - 1 + ind] = shape[d]
        return shaped(_gather(xf, src), out)
    return impl


def take_along_axis(x, indices, axis=-1):
    """np.take_along_axis(x, indices, axis): indices with x's ndim, their other axes of
    x's length or 1 (broadcast)."""
    return np.take_along_axis(x, indices, axis)


@register_jitable
def _along_axis_src(xs, ind, ax):
    """(sources, result shape) of np.take_along_axis; ind: the indices as a C array."""
    nd = xs.shape[0]
    ish = shape_array(ind)
    out = np.empty(nd, np.intp)
    for d in range(nd):
        if d == ax:
            out[d] = ish[d]
        elif xs[d] == ish[d] or ish[d] == 1:
            out[d] = xs[d]
        elif xs[d] == 1:
            out[d] = ish[d]
        else:
            raise ValueError("srcgrad: take_along_axis: shape mismatch")
    size = _size(out)
    src = np.empty(size, np.intp)
    xst = _cstrides(xs)
    ist = _cstrides(ish)
    indf = flat(ind)
    idx = np.zeros(nd, np.intp)
    n = xs[ax]
    for k in range(size):
        s = 0
        i = 0
        for d in range(nd):
            if ish[d] > 1:
                i += idx[d] * ist[d]
            if d != ax and xs[d] > 1:
                s += idx[d] * xst[d]
        src[k] = s + _wrap(indf[i], n) * xst[ax]
        d = nd - 1
        while d >= 0:
            idx[d] += 1
            if idx[d] < out[d]:
                break
            idx[d] = 0
            d -= 1
    return src, out


@overload(take_along_axis)
def _ov_take_along_axis(x, indices, axis=-1):
    _need(_is_arr(indices) and _is_int(indices.dtype), "take_along_axis",
          f"indices must be an int array, got {indices}")
    nd, unpack = _flat_input(x, axis, "take_along_axis")
    _need(indices.ndim == nd, "take_along_axis", "indices and x must have the same number "
          "of dimensions")
    shaped = _shaper(nd)

    def impl(x, indices, axis=-1):
        xf, shape, ax = unpack(x, axis)
        src, out = _along_axis_src(shape, np.ascontiguousarray(indices), ax)
        return shaped(_gather(xf, src), out)
    return impl


def diagonal(x, offset=0, axis1=0, axis2=1):
    """np.diagonal(x, offset, axis1, axis2) (a copy; NumPy's is a read-only view)."""
    return np.diagonal(x, offset, axis1, axis2)


@register_jitable
def _diagonal_src(xs, offset, a1, a2):
    """(sources, result shape) of np.diagonal: the other axes in order, the diagonal last."""
    nd = xs.shape[0]
    r1 = -offset if offset < 0 else 0
    r2 = offset if offset > 0 else 0
    length = max(0, min(xs[a1] - r1, xs[a2] - r2))
    st = _cstrides(xs)
    rest = np.empty(nd - 2, np.intp)
    rst = np.empty(nd - 2, np.intp)
    j = 0
    for d in range(nd):
        if d != a1 and d != a2:
            rest[j] = xs[d]
            rst[j] = st[d]
            j += 1
    out = np.empty(nd - 1, np.intp)
    out[:nd - 2] = rest
    out[nd - 2] = length
    count = _size(rest)
    src = np.empty(count * length, np.intp)
    idx = np.zeros(nd - 2, np.intp)
    t = 0
    for _ in range(count):
        base = 0
        for d in range(nd - 2):
            base += idx[d] * rst[d]
        for i in range(length):
            src[t] = base + (i + r1) * st[a1] + (i + r2) * st[a2]
            t += 1
        d = nd - 3
        while d >= 0:
            idx[d] += 1
            if idx[d] < rest[d]:
                break
            idx[d] = 0
            d -= 1
    return src, out


@overload(diagonal)
def _ov_diagonal(x, offset=0, axis1=0, axis2=1):
    _need(_is_arr(x) and x.ndim >= 2, "diagonal", f"x must have 2 or more dimensions, got {x}")
    nd = x.ndim
    shaped = _shaper(nd - 1)

    def impl(x, offset=0, axis1=0, axis2=1):
        a1 = _axis(axis1, nd)
        a2 = _axis(axis2, nd)
        if a1 == a2:
            raise ValueError("axis1 and axis2 cannot be the same")
        src, out = _diagonal_src(shape_array(x), offset, a1, a2)
        return shaped(_gather(flat(x), src), out)
    return impl


def split_part(x, sections, axis, kind, k, count):
    """Part k of the `count` parts np.split(x, sections, axis) returns (np.array_split,
    np.hsplit, np.vsplit, np.dsplit by `kind`: SPLIT, ARRAY_SPLIT, HSPLIT, VSPLIT,
    DSPLIT; the last three choose their own axis): what ``a, b = np.split(x, 2)``
    unpacks. A view, as NumPy's parts are."""
    func = (np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit)[kind]
    parts = func(x, sections) if kind >= HSPLIT else func(x, sections, axis)
    if len(parts) != count:
        raise ValueError(f"srcgrad: {len(parts)} parts unpacked into {count} names")
    return parts[k]


@register_jitable
def _clip_index(i, n):
    """An index as a slice bound reads it (negative from the end, clipped to [0, n])."""
    if i < 0:
        i += n
    return min(max(i, 0), n)


def _split_overload(x, sections, kind_value):
    """Typing time: a jitted ``f(n, sections, kind, k, count) -> (start, stop)``."""
    if _is_int(sections):
        def bounds(n, sections, kind, k, count):
            if sections != count:
                raise ValueError("srcgrad: the number of parts is not the number of names "
                                 "they are unpacked into")
            if sections <= 0:
                raise ValueError("number sections must be larger than 0.")
            each = n // sections
            extra = n % sections
            if kind != ARRAY_SPLIT and extra != 0:
                raise ValueError("array split does not result in an equal division")
            start = k * each + min(k, extra)
            return start, start + each + (1 if k < extra else 0)
        return register_jitable(bounds)
    _need(_is_int_seq(sections), "split_part", f"sections must be an int or ints, got "
          f"{sections}")

    def bounds_at(n, sections, kind, k, count):
        cuts = _ints(sections)
        if cuts.shape[0] + 1 != count:
            raise ValueError("srcgrad: the number of parts is not the number of names "
                             "they are unpacked into")
        start = _clip_index(cuts[k - 1], n) if k > 0 else 0
        stop = _clip_index(cuts[k], n) if k < cuts.shape[0] else n
        return start, max(start, stop)
    return register_jitable(bounds_at)


@overload(split_part)
def _ov_split_part(x, sections, axis, kind, k, count):
    _need(_is_arr(x), "split_part", f"x must be an array, got {x}")
    nd = x.ndim
    bounds = _split_overload(x, sections, kind)
    shaped = _shaper(nd)

    def impl(x, sections, axis, kind, k, count):
        if kind == HSPLIT:
            if nd == 0:
                raise ValueError("hsplit only works on arrays of 1 or more dimensions")
            ax = 1 if nd > 1 else 0
        elif kind == VSPLIT:
            if nd < 2:
                raise ValueError("vsplit only works on arrays of 2 or more dimensions")
            ax = 0
        elif kind == DSPLIT:
            if nd < 3:
                raise ValueError("dsplit only works on arrays of 3 or more dimensions")
            ax = 2
        else:
            ax = _axis(axis, nd)
        shape = shape_array(x)
        start, stop = bounds(shape[ax], sections, kind, k, count)
        pos = np.arange(start, stop).astype(np.intp)
        return shaped(_gather(flat(x), _along(shape, ax, pos)), _with(shape, ax, stop - start))
    return impl


def trim_zeros(x, like):
    """x[first:last + 1] for the first and last nonzero entries of the 1-D array `like`
    (np.trim_zeros(x) is trim_zeros(x, x)): the slice of x that np.trim_zeros(like)
    keeps, so that its tangent is the same slice of the tangent."""
    nonzero = np.flatnonzero(like)
    if nonzero.size == 0:
        return x[:0]
    return x[nonzero[0]:nonzero[-1] + 1]


@overload(trim_zeros)
def _ov_trim_zeros(x, like):
    _need(_is_arr(x) and x.ndim == 1 and _is_arr(like) and like.ndim == 1, "trim_zeros",
          f"expected 1-D arrays, got {x}, {like}")

    def impl(x, like):
        n = like.shape[0]
        first = 0
        while first < n and like[first] == 0:
            first += 1
        last = n
        while last > first and like[last - 1] == 0:
            last -= 1
        return x[first:last]
    return impl


def insert(x, obj, values, axis=None):
    """np.insert(x, obj, values, axis): obj an int (values inserted as a block there, after
    NumPy's moveaxis) or ints (one slot each, values broadcast), axis None: x flattened."""
    return np.insert(x, obj, values, axis)


@register_jitable
def _insert_slots(n, idx, numnew, scalar_obj):
    """For the n + numnew slots along the axis: the index into x (>= 0) or -1 - the index
    into the block of values."""
    slots = np.empty(n + numnew, np.intp)
    if scalar_obj:
        at = idx[0]
        if at < -n or at > n:
            raise IndexError("srcgrad: insert index out of bounds")
        if at < 0:
            at += n
        for s in range(n + numnew):
            slots[s] = s if s < at else (-1 - (s - at) if s < at + numnew else s - numnew)
        return slots
    ind = idx.copy()
    for j in range(numnew):
        if ind[j] < -n or ind[j] > n:
            raise IndexError("srcgrad: insert index out of bounds")
        if ind[j] < 0:
            ind[j] += n
    order = np.argsort(ind, kind="mergesort")
    for r in range(numnew):
        ind[order[r]] += r
    new = np.zeros(n + numnew, np.bool_)
    for j in range(numnew):
        slots[ind[j]] = -1 - j
        new[ind[j]] = True
    i = 0
    for s in range(n + numnew):
        if not new[s]:
            slots[s] = i
            i += 1
    return slots


@register_jitable
def _block_src(bs, vs, ax, moved):
    """Flat index into `values` (shape vs) of each element of the inserted block (shape
    bs): values broadcast from the right, after NumPy's ndmin and, for an int obj, its
    moveaxis(values, 0, ax) (`moved`)."""
    nd = bs.shape[0]
    full = np.ones(nd, np.intp)
    for d in range(vs.shape[0]):
        full[nd - vs.shape[0] + d] = vs[d]
    vst = _cstrides(full)
    size = _size(bs)
    src = np.empty(size, np.intp)
    idx = np.zeros(nd, np.intp)
    for k in range(size):
        s = 0
        for d in range(nd):
            # the values' axis read at block axis d
            e = d
            if moved:
                e = 0 if d == ax else (d + 1 if d < ax else d)
            if full[e] > 1:
                s += idx[d] * vst[e]
        src[k] = s
        d = nd - 1
        while d >= 0:
            idx[d] += 1
            if idx[d] < bs[d]:
                break
            idx[d] = 0
            d -= 1
    return src


@overload(insert)
def _ov_insert(x, obj, values, axis=None):
    nd, unpack = _flat_input(x, axis, "insert")
    _need(_ndim(values) <= nd, "insert", "values have more dimensions than x")
    shaped = _shaper(nd)
    scalar_obj = _is_int(obj)
    _need(scalar_obj or _is_int_seq(obj), "insert", f"obj must be an int or ints, got {obj}")
    dt = _dtype(x)
    vdata = register_jitable(lambda v: flat(v).astype(dt)) if _is_arr(values) \
        else register_jitable(lambda v: np.full(1, v, dt))

    def impl(x, obj, values, axis=None):
        xf, shape, ax = unpack(x, axis)
        idx = _ints(obj)
        vs = shape_array(values)
        single = scalar_obj or idx.shape[0] == 1
        moved = scalar_obj
        if single:
            full = np.ones(nd, np.intp)
            for d in range(vs.shape[0]):
                full[nd - vs.shape[0] + d] = vs[d]
            numnew = full[0] if moved else full[ax]
        else:
            numnew = idx.shape[0]
        n = shape[ax]
        slots = _insert_slots(n, idx, numnew, single)
        bs = _with(shape, ax, numnew)
        for d in range(nd):
            e = d
            if moved:
                e = 0 if d == ax else (d + 1 if d < ax else d)
            ve = 1
            k = e - (nd - vs.shape[0])
            if k >= 0:
                ve = vs[k]
            if ve != 1 and ve != bs[d]:
                raise ValueError("srcgrad: insert: values do not broadcast to the inserted "
                                 "block")
        bsrc = _block_src(bs, vs, ax, moved)
        vf = vdata(values)
        out_shape = _with(shape, ax, n + numnew)
        pre, big, post = lanes(out_shape, ax)
        out = np.empty(pre * big * post, dt)
        t = 0
        for p in range(pre):
            for s in range(big):
                j = slots[s]
                for q in range(post):
                    if j >= 0:
                        out[t] = xf[(p * n + j) * post + q]
                    else:
                        out[t] = vf[bsrc[(p * numnew + (-1 - j)) * post + q]]
                    t += 1
        return shaped(out, out_shape)
    return impl


# =====================================================================
# Adjoints of the gathers: g scattered back through f(positions(x), ...)
# =====================================================================

@register_jitable
def flip_grad(g, x, axis):
    """Adjoint of flip for x."""
    return scatter(g, flip(positions(x), axis), x)


@register_jitable
def roll_grad(g, x, shift, axis):
    """Adjoint of roll for x."""
    return scatter(g, roll(positions(x), shift, axis), x)


@register_jitable
def rot90_grad(g, x, k, axes):
    """Adjoint of rot90 for x."""
    return scatter(g, rot90(positions(x), k, axes), x)


@register_jitable
def repeat_grad(g, x, repeats, axis):
    """Adjoint of repeat for x: the sum over each element's copies."""
    return scatter(g, repeat(positions(x), repeats, axis), x)


@register_jitable
def tile_grad(g, x, reps):
    """Adjoint of tile for x: the sum over the tiles."""
    return scatter(g, tile(positions(x), reps), x)


@register_jitable
def delete_grad(g, x, obj, axis):
    """Adjoint of delete for x (0 at the deleted entries)."""
    return scatter(g, delete(positions(x), obj, axis), x)


@register_jitable
def insert_grad(g, x, obj, values, axis):
    """Adjoint of insert for x."""
    return scatter(g, insert(positions(x), obj, -positions(values), axis), x)


@register_jitable
def insert_values_grad(g, x, obj, values, axis):
    """Adjoint of insert for the values (summed where they were broadcast)."""
    return scatter(g, insert(-positions(x), obj, positions(values), axis), values)


@register_jitable
def take_grad(g, x, indices, axis):
    """Adjoint of take for x: repeated indices add up."""
    return scatter(g, take(positions(x), indices, axis), x)


@register_jitable
def take_along_axis_grad(g, x, indices, axis):
    """Adjoint of take_along_axis for x: repeated indices add up."""
    return scatter(g, take_along_axis(positions(x), indices, axis), x)


@register_jitable
def diagonal_grad(g, x, offset, axis1, axis2):
    """Adjoint of diagonal for x."""
    return scatter(g, diagonal(positions(x), offset, axis1, axis2), x)


@register_jitable
def diag_grad(g, x, k):
    """Adjoint of np.diag(x, k) for x: the kth diagonal of g (x a vector), or g on the kth
    diagonal of zeros of x's shape (x a matrix)."""
    return scatter(g, np.diag(positions(x), k), x)


@register_jitable
def diagflat_grad(g, x, k):
    """Adjoint of np.diagflat(x, k) for x."""
    return scatter(g, np.diagflat(positions(x), k), x)


@register_jitable
def resize_grad(g, x):
    """Adjoint of np.resize(x, shape) for x: the sum over the cyclic copies."""
    return scatter(g, np.resize(positions(x), g.shape), x)


@register_jitable
def extract_grad(g, condition, x):
    """Adjoint of np.extract(condition, x) for x."""
    return scatter(g, np.extract(condition, positions(x)), x)


@register_jitable
def split_part_grad(g, x, sections, axis, kind, k, count):
    """Adjoint of split_part for x: g in its part, zeros elsewhere."""
    return scatter(g, split_part(positions(x), sections, axis, kind, k, count), x)


@register_jitable
def trim_zeros_grad(g, x, like):
    """Adjoint of trim_zeros for x (0 at the trimmed zeros)."""
    return scatter(g, trim_zeros(positions(x), like), x)


# =====================================================================
# Orders
# =====================================================================

def sort(x, axis=-1):
    """np.sort(x, axis)."""
    return np.sort(x, axis)


@register_jitable
def _lane(xf, p, n, post, q, buf):
    """Copy lane (p, q) of flat (pre, n, post) data into buf."""
    for k in range(n):
        buf[k] = xf[(p * n + k) * post + q]


@register_jitable
def _sorted_lanes(x, axis):
    pre, n, post = lanes(shape_array(x), axis)
    xf = flat(x)
    out = np.empty(xf.shape[0], xf.dtype)
    buf = np.empty(n, xf.dtype)
    for p in range(pre):
        for q in range(post):
            _lane(xf, p, n, post, q, buf)
            buf.sort()
            for k in range(n):
                out[(p * n + k) * post + q] = buf[k]
    return out.reshape(x.shape)


@register_jitable
def _argsorted_lanes(x, axis):
    """The stable argsort of each lane, flat."""
    pre, n, post = lanes(shape_array(x), axis)
    xf = flat(x)
    out = np.empty(xf.shape[0], np.intp)
    buf = np.empty(n, xf.dtype)
    for p in range(pre):
        for q in range(post):
            _lane(xf, p, n, post, q, buf)
            order = np.argsort(buf, kind="mergesort")
            for k in range(n):
                out[(p * n + k) * post + q] = order[k]
    return out


@overload(sort)
def _ov_sort(x, axis=-1):
    _need(_is_arr(x) and x.ndim >= 1 and _is_int(axis), "sort",
          f"expected an array and an int axis, got {x}, {axis}")
    nd = x.ndim
    return lambda x, axis=-1: _sorted_lanes(x, _axis(axis, nd))


def partition(x, kth, axis=-1):
    """np.partition(x, kth, axis). Compiled, each lane is sorted: a partition for every
    kth (NumPy leaves the order around the kth elements unspecified, and Numba's own
    np.partition takes 30 s to compile)."""
    return np.partition(x, kth, axis)


@overload(partition)
def _ov_partition(x, kth, axis=-1):
    _need(_is_arr(x) and x.ndim >= 1 and _is_int(axis), "partition",
          f"expected an array and an int axis, got {x}, {axis}")
    nd = x.ndim

    def impl(x, kth, axis=-1):
        ax = _axis(axis, nd)
        for k in _ints(kth):
            _wrap(k, x.shape[ax])
        return _sorted_lanes(x, ax)
    return impl


def argsort(x, axis=-1):
    """The stable argsort of x along axis."""
    return np.argsort(x, axis, kind="stable")


@overload(argsort)
def _ov_argsort(x, axis=-1):
    _need(_is_arr(x) and x.ndim >= 1, "argsort", f"x must be an array, got {x}")
    nd = x.ndim
    return lambda x, axis=-1: _argsorted_lanes(x, _axis(axis, nd)).reshape(x.shape)


def source_index(x, ans, axis):
    """For each element of `ans`, a permutation of x along axis (sorted or partitioned),
    the index along the axis of the element of x it is: equal values are matched in
    order (stably), so this works whatever order the sort or partition chose."""
    ox = np.argsort(x, axis, kind="stable")
    oa = np.argsort(ans, axis, kind="stable")
    out = np.empty_like(ox)
    np.put_along_axis(out, oa, ox, axis)
    return out


@overload(source_index)
def _ov_source_index(x, ans, axis):
    _need(_is_arr(x) and _is_arr(ans) and x.ndim == ans.ndim >= 1, "source_index",
          f"expected arrays of one ndim, got {x}, {ans}")
    nd = x.ndim

    def impl(x, ans, axis):
        ax = _axis(axis, nd)
        ox = _argsorted_lanes(x, ax)
        oa = _argsorted_lanes(ans, ax)
        pre, n, post = lanes(shape_array(x), ax)
        out = np.empty(ox.shape[0], np.intp)
        for p in range(pre):
            for q in range(post):
                for r in range(n):
                    i = (p * n + r) * post + q
                    out[(p * n + oa[i]) * post + q] = ox[i]
        return out.reshape(x.shape)
    return impl


# =====================================================================
# Differences and scans along an axis
# =====================================================================

def diff(x, n=1, axis=-1):
    """np.diff(x, n, axis)."""
    return np.diff(x, n, axis)


@register_jitable
def _diff_lanes(xf, pre, m, post, n):
    """n-th differences of the (pre, m, post) lanes: (pre, max(m - n, 0), post) flat."""
    if n < 0:
        raise ValueError("order must be non-negative")
    cur = xf.copy()
    length = m
    for _ in range(min(n, m)):
        nxt = np.empty(pre * (length - 1) * post, xf.dtype)
        for p in range(pre):
            for k in range(length - 1):
                for q in range(post):
                    nxt[(p * (length - 1) + k) * post + q] = \
                        cur[(p * length + k + 1) * post + q] - cur[(p * length + k) * post + q]
        cur = nxt
        length -= 1
    if n > m:
        return np.empty(0, xf.dtype), 0
    return cur, length


@overload(diff)
def _ov_diff(x, n=1, axis=-1):
    _need(_is_arr(x) and x.ndim >= 1, "diff", f"x must be an array, got {x}")
    nd = x.ndim
    shaped = _shaper(nd)

    def impl(x, n=1, axis=-1):
        shape = shape_array(x)
        ax = _axis(axis, nd)
        pre, m, post = lanes(shape, ax)
        out, length = _diff_lanes(flat(x), pre, m, post, n)
        return shaped(out, _with(shape, ax, length))
    return impl


@register_jitable
def diff_grad(g, x, n, axis):
    """Adjoint of diff for x: each step's transpose, ``gx_k = g_(k-1) - g_k``, n times."""
    pre, m, post = lanes(shape_array(x), axis)
    out = np.zeros(pre * m * post, np.float64)
    if n <= m:
        cur = flat(g).astype(np.float64)
        length = m - n
        for _ in range(n):
            nxt = np.zeros(pre * (length + 1) * post, np.float64)
            for p in range(pre):
                for k in range(length):
                    for q in range(post):
                        v = cur[(p * length + k) * post + q]
                        nxt[(p * (length + 1) + k + 1) * post + q] += v
                        nxt[(p * (length + 1) + k) * post + q] -= v
            cur = nxt
            length += 1
        out = cur
    return out.astype(x.dtype).reshape(x.shape)


@register_jitable
def cumprod(x, axis):
    """np.cumprod(x, axis) for an int axis (the normalizer flattens x for axis None):
    sequential products, as NumPy's."""
    pre, n, post = lanes(shape_array(x), axis)
    xf = flat(x)
    out = np.empty(xf.shape[0], xf.dtype)
    for p in range(pre):
        for q in range(post):
            acc = xf[p * n * post + q]
            for k in range(n):
                i = (p * n + k) * post + q
                if k > 0:
                    acc = acc * xf[i]
                out[i] = acc
    return out.reshape(x.shape)


@register_jitable
def linrec(a, b, axis):
    """The linear recurrence ``z_k = a_k z_(k-1) + b_k`` along axis (z before the first is
    0): cumprod's tangent, and its own (``linrec(a, da * shift(z, 0.0) + db)``)."""
    pre, n, post = lanes(shape_array(a), axis)
    af = flat(a)
    bf = flat(b)
    if bf.shape[0] != af.shape[0]:
        raise ValueError("srcgrad: linrec: a and b must have one shape")
    out = np.empty(af.shape[0], bf.dtype)
    for p in range(pre):
        for q in range(post):
            z = bf[p * n * post + q] * 1.0
            for k in range(n):
                i = (p * n + k) * post + q
                if k > 0:
                    z = af[i] * z + bf[i]
                out[i] = z
    return out.reshape(a.shape)


@register_jitable
def linrec_adj(g, a, axis):
    """The reverse recurrence ``w_k = g_k + a_(k+1) w_(k+1)``: the adjoint of linrec for
    b (and, times shift(z, 0.0), for a)."""
    pre, n, post = lanes(shape_array(a), axis)
    af = flat(a)
    gf = flat(g)
    out = np.empty(af.shape[0], np.float64)
    for p in range(pre):
        for q in range(post):
            w = 0.0
            for k in range(n - 1, -1, -1):
                i = (p * n + k) * post + q
                if k < n - 1:
                    w = gf[i] + af[i + post] * w
                else:
                    w = gf[i] * 1.0
                out[i] = w
    return out.astype(a.dtype).reshape(a.shape)


@register_jitable
def shift(x, fill, axis):
    """x shifted by one along axis: ``out_0 = fill``, ``out_k = x_(k-1)``."""
    pre, n, post = lanes(shape_array(x), axis)
    xf = flat(x)
    out = np.empty(xf.shape[0], xf.dtype)
    for p in range(pre):
        for q in range(post):
            for k in range(n):
                i = (p * n + k) * post + q
                out[i] = xf[i - post] if k > 0 else fill
    return out.reshape(x.shape)


@register_jitable
def shift_grad(g, x, axis):
    """Adjoint of shift for x: g shifted back (the last entry gets 0)."""
    return scatter(g, shift(positions(x), 0, axis), x)


@register_jitable
def nan_fill(x, like, fill):
    """x with `fill` where `like` (of x's shape) is NaN: np.nancumsum and np.nancumprod are
    the cumulative sum and product of nan_fill(x, x, 0.0) and nan_fill(x, x, 1.0); its
    adjoint and tangent are nan_fill(g, x, 0.0)."""
    xf = flat(x)
    lf = flat(like)
    if lf.shape[0] != xf.shape[0]:
        raise ValueError("srcgrad: nan_fill: x and like must have one shape")
    out = np.empty(xf.shape[0], xf.dtype)
    for k in range(xf.shape[0]):
        out[k] = fill if np.isnan(lf[k]) else xf[k]
    return out.reshape(x.shape)


# =====================================================================
# Powers (np.vander)
# =====================================================================

def vander_powers(x, n=None, increasing=False):
    """The exponents of np.vander(x, n, increasing)'s columns."""
    count = len(x) if n is None else n
    p = np.arange(count)
    return p if increasing else p[::-1].copy()


@overload(vander_powers)
def _ov_vander_powers(x, n=None, increasing=False):
    _need(_is_arr(x) and x.ndim == 1, "vander_powers", f"x must be 1-D, got {x}")
    count = register_jitable(lambda x, n: x.shape[0]) if is_none_type(n) \
        else register_jitable(lambda x, n: n)

    def impl(x, n=None, increasing=False):
        m = count(x, n)
        if m < 0:
            raise ValueError("negative dimensions are not allowed")
        p = np.empty(m, np.int64)
        for j in range(m):
            p[j] = j if increasing else m - 1 - j
        return p
    return impl


def powers(x, p, c):
    """``c_j * x ** p_j`` in a new last axis (p: non-negative int exponents, c: a float or
    one per exponent), each power a product of factors of x taken in order, as np.vander
    computes it (np.vander(x, n, increasing) is powers(x, vander_powers(x, n,
    increasing), 1.0)). float64, as np.vander's. Its derivative is powers(x, max(p - 1,
    0), c * p): exact at x = 0 (JAX's np.vander gives NaN there)."""
    x = np.asarray(x, dtype=np.float64)
    p = np.asarray(p)
    out = np.empty(x.shape + p.shape, np.float64)
    for j in range(p.shape[0]):
        r = np.ones_like(x)
        for _ in range(p[j]):
            r = r * x
        out[..., j] = r
    return out * c


@register_jitable
def _powers_flat(xf, p, cf):
    m = p.shape[0]
    out = np.empty(xf.shape[0] * m, np.float64)
    for i in range(xf.shape[0]):
        v = xf[i] * 1.0
        for j in range(m):
            r = 1.0
            for _ in range(p[j]):
                r = r * v
            out[i * m + j] = r * cf[j if cf.shape[0] > 1 else 0]
    return out


@overload(powers)
def _ov_powers(x, p, c):
    _need(_is_arr(p) and p.ndim == 1 and _is_int(p.dtype), "powers",
          f"p must be a 1-D int array, got {p}")
    nd = _ndim(x) + 1
    shaped = _shaper(nd)

    def impl(x, p, c):
        shape = np.empty(nd, np.intp)
        xs = shape_array(x)
        shape[:nd - 1] = xs
        shape[nd - 1] = p.shape[0]
        return shaped(_powers_flat(flat(x), p, flat(c)), shape)
    return impl


@register_jitable
def powers_grad(g, x, p, c):
    """Adjoint of powers for x: ``sum_j g_j c_j p_j x ** (p_j - 1)`` (no term for p_j = 0)."""
    xf = flat(x)
    gf = flat(g)
    cf = flat(c)
    m = p.shape[0]
    out = np.zeros(xf.shape[0], np.float64)
    for i in range(xf.shape[0]):
        v = xf[i] * 1.0
        for j in range(m):
            if p[j] == 0:
                continue
            r = 1.0
            for _ in range(p[j] - 1):
                r = r * v
            out[i] += gf[i * m + j] * cf[j if cf.shape[0] > 1 else 0] * p[j] * r
    return out.astype(x.dtype).reshape(x.shape)


# =====================================================================
# Sets: np.unique, np.union1d, ... (sorted values)
# =====================================================================

def union1d(a, b):
    """np.union1d(a, b)."""
    return np.union1d(a, b)


def intersect1d(a, b):
    """np.intersect1d(a, b)."""
    return np.intersect1d(a, b)


def setdiff1d(a, b):
    """np.setdiff1d(a, b)."""
    return np.setdiff1d(a, b)


def setxor1d(a, b):
    """np.setxor1d(a, b)."""
    return np.setxor1d(a, b)


@register_jitable
def _same(u, v):
    return u == v or (np.isnan(u) and np.isnan(v))


@register_jitable
def _unique(v):
    """np.unique of a 1-D array: sorted, NaNs as one (equal_nan=True)."""
    s = np.sort(v)
    keep = np.ones(s.shape[0], np.bool_)
    for i in range(1, s.shape[0]):
        keep[i] = not _same(s[i], s[i - 1])
    return s[keep]


@register_jitable
def _joined(u, v, dt):
    out = np.empty(u.shape[0] + v.shape[0], dt)
    for i in range(u.shape[0]):
        out[i] = u[i]
    for i in range(v.shape[0]):
        out[u.shape[0] + i] = v[i]
    return out


@register_jitable
def _union1d(a, b, dt):
    return _unique(_joined(flat(a), flat(b), dt))


@register_jitable
def _intersect1d(a, b, dt):
    aux = np.sort(_joined(_unique(flat(a)), _unique(flat(b)), dt))
    keep = np.zeros(aux.shape[0], np.bool_)
    for i in range(aux.shape[0] - 1):
        keep[i] = aux[i + 1] == aux[i]
    return aux[keep]


@register_jitable
def _setdiff1d(a, b, dt):
    ua = _unique(flat(a)).astype(dt)
    ub = np.sort(flat(b))
    keep = np.ones(ua.shape[0], np.bool_)
    for i in range(ua.shape[0]):
        j = np.searchsorted(ub, ua[i])
        keep[i] = not (j < ub.shape[0] and ub[j] == ua[i])
    return ua[keep]


@register_jitable
def _setxor1d(a, b, dt):
    aux = np.sort(_joined(_unique(flat(a)), _unique(flat(b)), dt))
    n = aux.shape[0]
    keep = np.ones(n, np.bool_)
    for i in range(n):
        if i > 0 and aux[i] == aux[i - 1]:
            keep[i] = False
        if i < n - 1 and aux[i] == aux[i + 1]:
            keep[i] = False
    return aux[keep]


def _set_overload(kernel, func):
    def ov(a, b):
        _need(_is_arr(a) and _is_arr(b), func, f"expected arrays, got {a}, {b}")
        dt = np.result_type(_dtype(a), _dtype(b))
        return lambda a, b: kernel(a, b, dt)
    return ov


overload(union1d)(_set_overload(_union1d, "union1d"))
overload(intersect1d)(_set_overload(_intersect1d, "intersect1d"))
overload(setdiff1d)(_set_overload(_setdiff1d, "setdiff1d"))
overload(setxor1d)(_set_overload(_setxor1d, "setxor1d"))


@register_jitable
def _find(ans, v):
    """The index of v in the sorted 1-D array ans (NaNs last), or -1."""
    if np.isnan(v):
        j = ans.shape[0]
        while j > 0 and np.isnan(ans[j - 1]):
            j -= 1
    else:
        j = np.searchsorted(ans, v)
    if j < ans.shape[0] and _same(ans[j], v):
        return j
    return -1


@register_jitable
def _owners_of(xf, af, bf):
    """For each value of the sorted af, the flat index in xf of its first occurrence, or
    -1 when it has none or its first occurrence in (bf, xf) is in bf."""
    owner = np.full(af.shape[0], -1, np.intp)
    claimed = np.zeros(af.shape[0], np.bool_)
    for i in range(bf.shape[0]):
        j = _find(af, bf[i])
        if j >= 0:
            claimed[j] = True
    for i in range(xf.shape[0]):
        j = _find(af, xf[i])
        if j >= 0 and not claimed[j]:
            claimed[j] = True
            owner[j] = i
    return owner


def _owners(x, ans, before):
    b = np.empty(0) if before is None else before
    return _owners_of(flat(x), flat(ans), flat(b))


@overload(_owners)
def _ov_owners(x, ans, before):
    if is_none_type(before):
        return lambda x, ans, before: _owners_of(flat(x), flat(ans), np.empty(0, np.float64))
    return lambda x, ans, before: _owners_of(flat(x), flat(ans), flat(before))


@register_jitable
def occurrence_take(v, x, ans, before=None):
    """For each value of `ans` (sorted, from np.unique or a set function of x and
    `before`), v at that value's first occurrence in x; 0 where it has none there, or
    where its first occurrence in (before, x) is in `before`: the tangent of np.unique
    and the set functions."""
    owner = _owners(x, ans, before)
    vf = flat(v)
    out = np.zeros(owner.shape[0], vf.dtype)
    for j in range(owner.shape[0]):
        if owner[j] >= 0:
            out[j] = vf[owner[j]]
    return out


@register_jitable
def occurrence_grad(g, x, ans, before=None):
    """Adjoint of occurrence_take (and of np.unique and the set functions) for x: each g_j
    at the first occurrence of ans_j in x, zeros elsewhere, in x's shape and dtype."""
    owner = _owners(x, ans, before)
    gf = flat(g)
    out = np.zeros(x.size, np.float64)
    for j in range(owner.shape[0]):
        if owner[j] >= 0:
            out[owner[j]] += gf[j]
    return out.astype(x.dtype).reshape(x.shape)


# =====================================================================
# Array methods
# =====================================================================

def astype(x, dtype):
    """x.astype(dtype)."""
    return np.asarray(x).astype(dtype)


@overload(astype)
def _ov_astype(x, dtype):
    _need(_is_arr(x), "astype", f"x must be an array, got {x}")
    return lambda x, dtype: x.astype(dtype)


def item(x):
    """x.item(): the one element of x, as a number."""
    return np.asarray(x).item()


@overload(item)
def _ov_item(x):
    _need(_is_arr(x), "item", f"x must be an array, got {x}")

    def impl(x):
        if x.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return flat(x)[0]
    return impl
