"""NumPy's statistics, signal and sequence functions in compiled code, and the helpers of
their derivative rules.

The normalizer (``compiler/stats_calls.py``) writes a call such as ``np.var(x, axis=1,
ddof=1)``, ``x.std()`` or ``np.median(x)`` as a call to a function of this module with
every argument in place, by position: a reduction over the whole array becomes a
reduction along axis 0 of ``ravel(x)`` (a copy of x in C order), so ``axis`` is always an
int here and generated code never holds ``None`` (which tangent code, differentiated again
for second derivatives, could not hold):

======================================================  ===================================
``var_axis(x, axis, ddof, keepdims)``, ``std_axis``      ``np.var``, ``np.std``
``nanvar_axis``, ``nanstd_axis`` (the same arguments)    ``np.nanvar``, ``np.nanstd``
``nansum_axis(x, axis, keepdims)``, ``nanmean_axis``,    ``np.nansum``, ...
``nanprod_axis``, ``nanmax_axis``, ``nanmin_axis``,
``ptp_axis``, ``median_axis``, ``nanmedian_axis``
``quantile_axis(x, q, axis, keepdims)``,                 ``np.quantile``, ... (``method``
``percentile_axis``, ``nanquantile_axis``,               ``"linear"``, NumPy's default)
``nanpercentile_axis``
``average(a, weights, axis, keepdims)``                  ``np.average`` with weights
``trapezoid_x(y, x, axis)``, ``trapezoid_dx(y, dx,       ``np.trapezoid``
axis)``
``cov(m, ddof)`` (rows of m are the variables),          ``np.cov``, ``np.corrcoef``
``variables(m, rowvar)``, ``cov_stack(m, y, rowvar)``,   (corrcoef is ``cov`` of the
``standardize(m)``                                       standardized variables)
``histogram_counts(a, bins, range)``,                    the parts of ``np.histogram``
``histogram_edges(a, bins)``,
``histogram_edges_range(a, bins, lo, hi)``
``ravel(x)``, ``keep_all(r, x)``                         a whole-array reduction, and its
                                                         ``keepdims=True``
======================================================  ===================================

The other helpers serve the rules in ``compiler/rules.py``. ``pick(x, v, q, axis,
keepdims, kind)`` is the center of the order statistics: quantiles, medians, maxima and
minima ignoring NaN, and ptp are, near any point, fixed linear combinations ``W(x) x`` of
the entries of x, with weights that depend only on the order of the entries (and on q).
``pick`` applies those weights to another array v, so its derivative in v is itself
(the tangent of a quantile is ``pick(x, dx, ...)``), its adjoint is ``pick_grad``, and its
derivative in x is zero; ``pick_dq`` applies the derivative of the weights in q. So the
tangents of these functions are calls with rules, and second derivatives need nothing
more. ``kind`` says which weights (the constants below): linear interpolation between the
two order statistics around position ``q * (count - 1)`` (JAX's ``jnp.quantile``: ties
keep the order of a stable sort, so one of two equal middle values takes the whole
weight), or the adjoint of a maximum or minimum split equally among ties (JAX's rule, as
``arrays.max_grad``).

Conventions (JAX's, checked against jax.numpy by tests/test_stats.py)
    * NaN entries of the ``nan*`` functions get zero gradient; so does a lane of only NaN.
      A quantile or median (not nan*) of a lane holding a NaN is NaN and passes no
      gradient (JAX: a constant NaN); a max, min or ptp of such a lane passes NaN.
    * ``std`` at zero variance: NaN (0 / 0), as JAX.
    * ``interp``: the slope of the interval ``np.searchsorted(xp, x, side="right")``
      closes (clipped to the first and last), so at a knot the slope to its right, at the
      last knot the last slope; 0 outside ``[xp[0], xp[-1]]`` and on an interval of zero
      width.
    * ``histogram``: the bin edges are ``linspace(min, max, bins + 1)`` (``min - 0.5``
      and ``max + 0.5`` when equal), differentiable through min and max as JAX's
      ``histogram_bin_edges``; the counts are integers.

Compiled versions
    Arrays of float64 or float32 (any layout; a float32 result for float32 data, else
    float64), of any number of dimensions; the lane kernels see an array as (pre, n, post)
    lanes along the axis (``arrays.lanes``) and work in float64. Sums run in order, so the
    last bits may differ from NumPy's pairwise sums. ``keepdims`` must be a constant.
    A zero-size lane gives NaN where NumPy raises. Compile time: one small loop kernel per
    family, compiled once per process; the per-signature wrappers only shape results.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable
from numba.np.unsafe.ndarray import to_fixed_tuple

from .arrays import flat, is_none_type, lanes, shape_array, unbroadcast

__all__ = [
    "QUANTILE", "NANQUANTILE", "MAX", "MIN", "PTP", "NANMAX", "NANMIN",
    "var_axis", "std_axis", "nanvar_axis", "nanstd_axis", "nansum_axis", "nanmean_axis",
    "nanprod_axis", "nanmax_axis", "nanmin_axis", "ptp_axis", "median_axis",
    "nanmedian_axis", "quantile_axis", "percentile_axis", "nanquantile_axis",
    "nanpercentile_axis", "average", "trapezoid_x", "trapezoid_dx", "cov", "variables",
    "cov_stack", "standardize", "histogram_counts", "histogram_edges",
    "histogram_edges_range", "ravel", "keep_all",
    "dof", "nan_mask", "nan_one", "nan_weights", "nan_dof", "nan_center", "prod_others",
    "prod_others_grad", "pick", "pick_dq", "pick_grad", "pick_dq_grad", "pick_grad_q",
    "weights_like", "weights_grad", "trapezoid_weights", "trapezoid_grad_y",
    "trapezoid_grad_x", "cov_jvp", "cov_grad", "variables_grad", "cov_unstack",
    "interp_slope", "interp_weights_t", "interp_slope_t", "correlate_grad_a",
    "correlate_grad_v", "bessel_i", "sinc_deriv", "kaiser_r", "histogram_edges_t",
    "histogram_edges_jvp",
]

# The weights `pick` applies (its `kind` argument).
QUANTILE = 0      # linear interpolation at q * (n - 1) of the sorted lane; NaN: none
NANQUANTILE = 1   # the same over the lane's numbers (NaN left out)
MAX = 2           # 1 / count at the entries equal to the maximum; NaN: NaN
MIN = 3
PTP = 4           # MAX - MIN
NANMAX = 5        # MAX over the numbers
NANMIN = 6

_NAN = math.nan


# =====================================================================
# Plain versions (jit=False): NumPy itself
# =====================================================================

def var_axis(x, axis, ddof, keepdims):
    """np.var(x, axis=axis, ddof=ddof, keepdims=keepdims)"""
    return np.var(x, axis=axis, ddof=ddof, keepdims=keepdims)


def std_axis(x, axis, ddof, keepdims):
    """np.std(x, axis=axis, ddof=ddof, keepdims=keepdims)"""
    return np.std(x, axis=axis, ddof=ddof, keepdims=keepdims)


def nanvar_axis(x, axis, ddof, keepdims):
    """np.nanvar(x, axis=axis, ddof=ddof, keepdims=keepdims)"""
    return np.nanvar(x, axis=axis, ddof=ddof, keepdims=keepdims)


def nanstd_axis(x, axis, ddof, keepdims):
    """np.nanstd(x, axis=axis, ddof=ddof, keepdims=keepdims)"""
    return np.nanstd(x, axis=axis, ddof=ddof, keepdims=keepdims)


def nansum_axis(x, axis, keepdims):
    """np.nansum(x, axis=axis, keepdims=keepdims)"""
    return np.nansum(x, axis=axis, keepdims=keepdims)


def nanmean_axis(x, axis, keepdims):
    """np.nanmean(x, axis=axis, keepdims=keepdims)"""
    return np.nanmean(x, axis=axis, keepdims=keepdims)


def nanprod_axis(x, axis, keepdims):
    """np.nanprod(x, axis=axis, keepdims=keepdims)"""
    return np.nanprod(x, axis=axis, keepdims=keepdims)


def nanmax_axis(x, axis, keepdims):
    """np.nanmax(x, axis=axis, keepdims=keepdims)"""
    return np.nanmax(x, axis=axis, keepdims=keepdims)


def nanmin_axis(x, axis, keepdims):
    """np.nanmin(x, axis=axis, keepdims=keepdims)"""
    return np.nanmin(x, axis=axis, keepdims=keepdims)


def ptp_axis(x, axis, keepdims):
    """np.ptp(x, axis=axis, keepdims=keepdims)"""
    return np.ptp(x, axis=axis, keepdims=keepdims)


def median_axis(x, axis, keepdims):
    """np.median(x, axis=axis, keepdims=keepdims)"""
    return np.median(x, axis=axis, keepdims=keepdims)


def nanmedian_axis(x, axis, keepdims):
    """np.nanmedian(x, axis=axis, keepdims=keepdims)"""
    return np.nanmedian(x, axis=axis, keepdims=keepdims)


def quantile_axis(x, q, axis, keepdims):
    """np.quantile(x, q, axis=axis, keepdims=keepdims)"""
    return np.quantile(x, q, axis=axis, keepdims=keepdims)


def percentile_axis(x, q, axis, keepdims):
    """np.percentile(x, q, axis=axis, keepdims=keepdims)"""
    return np.percentile(x, q, axis=axis, keepdims=keepdims)


def nanquantile_axis(x, q, axis, keepdims):
    """np.nanquantile(x, q, axis=axis, keepdims=keepdims)"""
    return np.nanquantile(x, q, axis=axis, keepdims=keepdims)


def nanpercentile_axis(x, q, axis, keepdims):
    """np.nanpercentile(x, q, axis=axis, keepdims=keepdims)"""
    return np.nanpercentile(x, q, axis=axis, keepdims=keepdims)


def average(a, weights, axis, keepdims):
    """np.average(a, axis=axis, weights=weights, keepdims=keepdims)"""
    return np.average(a, axis=axis, weights=weights, keepdims=keepdims)


def trapezoid_x(y, x, axis):
    """np.trapezoid(y, x, axis=axis)"""
    return np.trapezoid(y, x, axis=axis)


def trapezoid_dx(y, dx, axis):
    """np.trapezoid(y, dx=dx, axis=axis)"""
    if np.ndim(dx):
        raise TypeError("srcgrad: np.trapezoid takes a float dx (a spacing array is x)")
    return np.trapezoid(y, dx=dx, axis=axis)


def cov(m, ddof):
    """np.cov(m, ddof=ddof): the rows of m (or the 1-D m) are the variables."""
    return np.cov(m, ddof=ddof)


def variables(m, rowvar):
    """The variables of np.cov(m, rowvar=rowvar) as rows: m, or m.T when rowvar is
    False and m has more than one row (NumPy's rule); a copy."""
    m = np.asarray(m)
    if not rowvar and m.ndim == 2 and m.shape[0] != 1:
        m = m.T
    return np.array(m, dtype=_float_dtype(m))


def cov_stack(m, y, rowvar):
    """The variables of np.cov(m, y, rowvar=rowvar) as the rows of one array."""
    rows = [np.atleast_2d(np.asarray(a, dtype=np.float64)) for a in (m, y)]
    if not rowvar:
        rows = [r.T if r.shape[0] != 1 else r for r in rows]
    return np.concatenate(rows, axis=0)


def standardize(m):
    """Each row of m (or the 1-D m) centered and divided by its standard deviation (ddof
    1): np.corrcoef(m) is cov(standardize(m), 1)."""
    m = np.asarray(m)
    c = m - np.mean(m, axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (c / np.std(m, axis=-1, ddof=1, keepdims=True)).astype(_float_dtype(m))


def histogram_counts(a, bins=10, range=None):
    """np.histogram(a, bins, range)[0]"""
    return np.histogram(a, bins, range)[0]


def histogram_edges(a, bins=10):
    """np.histogram(a, bins)[1]"""
    return np.histogram(a, bins)[1]


def histogram_edges_range(a, bins, lo, hi):
    """np.histogram(a, bins, (lo, hi))[1]"""
    return np.histogram(a, bins, (lo, hi))[1]


def ravel(x):
    """A C-order copy of x, flat (never a view: generated code may tape it by reference)."""
    return np.array(x).flatten()


def keep_all(r, x):
    """The whole-array reduction r shaped as keepdims=True gives it: (1,) * x.ndim."""
    return np.full((1,) * np.ndim(x), r, dtype=_float_dtype(np.asarray(x)))


def _float_dtype(a):
    return np.float32 if np.asarray(a).dtype == np.float32 else np.float64


# =====================================================================
# Helpers of the rules (plain versions; the lane kernels below do the work where NumPy
# has no one-call equivalent)
# =====================================================================

def dof(x, axis, ddof):
    """The divisor of np.var(x, axis, ddof=ddof): x.shape[axis] - ddof, a float."""
    return float(np.shape(x)[axis] - ddof)


def nan_mask(x):
    """1.0 where x is a number, 0.0 where it is NaN (in x's float dtype)."""
    x = np.asarray(x)
    return (~np.isnan(x)).astype(_float_dtype(x))


def nan_one(x):
    """x with NaN replaced by 1.0: what np.nanprod multiplies."""
    x = np.asarray(x)
    return np.where(np.isnan(x), 1.0, x).astype(_float_dtype(x))


def nan_weights(x, axis):
    """The weights of np.nanmean along axis, in x's shape: 1 / count at the numbers of a
    lane, 0 at NaN and in a lane of only NaN."""
    m = nan_mask(x)
    c = np.sum(m, axis=axis, keepdims=True)
    return (m / np.maximum(c, 1.0)).astype(m.dtype)


def nan_dof(x, axis, ddof, keepdims):
    """count - ddof along axis (count: the numbers of the lane), a float or an array of
    the reduced shape; 1.0 for a lane of only NaN, whose entries get zero gradient."""
    c = np.sum(nan_mask(x), axis=axis, keepdims=keepdims, dtype=np.float64)
    return np.where(c > 0, c - ddof, 1.0)[()]


def nan_center(v, x, axis):
    """v minus its mean over the entries where x is a number, along axis; 0 where x is
    NaN. Linear in v and symmetric (its own adjoint); nan_center(x, x, axis) is what
    np.nanvar squares."""
    m = np.asarray(nan_mask(x), dtype=np.float64)
    v = np.asarray(v)
    vz = np.where(m > 0, v, 0.0)
    mean = np.sum(vz, axis=axis, keepdims=True) / np.maximum(np.sum(m, axis=axis, keepdims=True), 1.0)
    return np.where(m > 0, vz - mean, 0.0).astype(_float_dtype(v))


def prod_others(y, axis):
    """Each entry's product of the other entries of its lane along axis (no division:
    exact with zeros): the gradient of np.prod."""
    y = np.asarray(y)
    pre, n, post = lanes(y.shape, axis)
    out = np.empty(y.size)
    _k_prod_others(_f64(y), pre, n, post, out)
    return out.reshape(y.shape).astype(_float_dtype(y))


def prod_others_grad(g, y, axis):
    """The adjoint (and, the matrix being symmetric, the tangent) of prod_others:
    out[k] = sum over i != k of g[i] times the product of the entries other than i and k."""
    y = np.asarray(y)
    pre, n, post = lanes(y.shape, axis)
    out = np.empty(y.size)
    _k_prod_others_grad(_f64(g), _f64(y), pre, n, post, out)
    return out.reshape(y.shape).astype(_float_dtype(y))


def pick(x, v, q, axis, keepdims, kind):
    """The weights of `kind` (QUANTILE, ..., NANMIN) that x's order gives each lane
    along axis, applied to v (x's shape): the shape of q, then the reduced shape."""
    return _pick_plain(x, v, None, q, None, axis, keepdims, kind, False, _FORWARD)


def pick_dq(x, v, q, w, axis, keepdims, kind):
    """The derivative of pick in q applied to v, times w (q's shape, broadcast along the
    result's other dimensions): the tangent of a quantile in q along w."""
    return _pick_plain(x, v, None, q, w, axis, keepdims, kind, True, _FORWARD)


def pick_grad(g, x, q, axis, keepdims, kind):
    """The adjoint of pick in v (x's shape)."""
    return _pick_plain(x, None, g, q, None, axis, keepdims, kind, False, _BACKWARD)


def pick_dq_grad(g, x, q, w, axis, keepdims, kind):
    """The adjoint of pick_dq in v (x's shape)."""
    return _pick_plain(x, None, g, q, w, axis, keepdims, kind, True, _BACKWARD)


def pick_grad_q(g, x, v, q, axis, keepdims, kind):
    """The adjoint of pick in q (and of pick_dq in w): q's shape."""
    return _pick_plain(x, v, g, q, None, axis, keepdims, kind, True, _GRADQ)


def _pick_plain(x, v, g, q, w, axis, keepdims, kind, slope, mode):
    x = np.asarray(x)
    pre, n, post = lanes(x.shape, axis)
    qf = _f64(q)
    wf = qf * 0.0 + 1.0 if w is None else _f64(w) * np.ones_like(qf)
    vf = _f64(x if v is None else v)
    gf = _f64(0.0 if g is None else g)
    if mode == _BACKWARD:
        out = np.zeros(x.size)
        size = x.size
    elif mode == _GRADQ:
        out = np.zeros(qf.size)
        size = qf.size
    else:
        out = np.zeros(qf.size * pre * post)
        size = out.size
    _k_pick(_f64(x), vf, gf, qf, wf, pre, n, post, kind, slope, mode, out[:size])
    if mode == _BACKWARD:
        return out.reshape(x.shape).astype(_float_dtype(x))
    if mode == _GRADQ:
        return out.reshape(np.shape(q))[()]
    dt = _float_dtype(x if v is None else np.asarray(v))
    return out.reshape(np.shape(q) + _reduced(x.shape, axis, keepdims)).astype(dt)[()]


def _reduced(shape, axis, keepdims):
    axis = axis % len(shape)
    if keepdims:
        return tuple(1 if d == axis else s for d, s in enumerate(shape))
    return tuple(s for d, s in enumerate(shape) if d != axis)


def _f64(a):
    return np.ascontiguousarray(a, dtype=np.float64).reshape(-1)


def weights_like(w, a, axis):
    """np.average's weights as an array that broadcasts against a: w itself when it has
    a's shape, a 1-D w laid along axis otherwise (a copy)."""
    w = np.asarray(w)
    if w.ndim == np.ndim(a):
        return w.copy()
    shape = [1] * np.ndim(a)
    shape[axis] = w.shape[0]
    return w.reshape(shape).copy()


def weights_grad(g, w, a, axis):
    """The adjoint of weights_like: g (of a's shape or weights_like's) summed to w's
    shape."""
    g = np.asarray(g, dtype=np.float64)
    w = np.asarray(w)
    if w.ndim == np.ndim(a):
        axes = tuple(d for d in range(g.ndim) if w.shape[d] == 1 and g.shape[d] != 1)
        return np.sum(g, axis=axes, keepdims=True).reshape(w.shape).astype(_float_dtype(w))
    axis = axis % g.ndim
    axes = tuple(d for d in range(g.ndim) if d != axis)
    return np.sum(g, axis=axes).reshape(w.shape).astype(_float_dtype(w))


def trapezoid_weights(y, axis):
    """The trapezoid rule's weights along axis, shaped to broadcast against y: 0.5 at the
    two ends, 1 inside (0 for a single point)."""
    n = np.shape(y)[axis]
    w = np.ones(n)
    w[0] = w[-1] = 0.5
    if n == 1:
        w[0] = 0.0
    shape = [1] * np.ndim(y)
    shape[axis] = n
    return w.reshape(shape)


def trapezoid_grad_y(g, y, x, axis):
    """The adjoint of np.trapezoid(y, x, axis=axis) in y."""
    return _trapezoid_plain(g, y, x, axis, True)


def trapezoid_grad_x(g, y, x, axis):
    """The adjoint of np.trapezoid(y, x, axis=axis) in x (x 1-D along axis, or y's shape)."""
    return _trapezoid_plain(g, y, x, axis, False)


def _trapezoid_plain(g, y, x, axis, in_y):
    y = np.asarray(y)
    x = np.asarray(x)
    pre, n, post = lanes(y.shape, axis)
    size = y.size if in_y else x.size
    out = np.zeros(size)
    _k_trapezoid_grad(_f64(g), _f64(y), _f64(x), x.ndim == 1 and y.ndim > 1, pre, n, post,
                      in_y, out)
    like = y if in_y else x
    return out.reshape(like.shape).astype(_float_dtype(like))


def cov_jvp(m, v, ddof):
    """The tangent of cov(m, ddof) along v: (Vc Mc' + Mc Vc') / (N - ddof), Mc and Vc
    the centered rows; bilinear and symmetric in (m, v)."""
    mc = _centered_rows(m)
    vc = _centered_rows(v)
    c = vc @ mc.T
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (c + c.T) / (mc.shape[1] - ddof)
    return _cov_shaped(out, m)


def cov_grad(g, m, ddof):
    """The adjoint of cov(m, ddof), and of cov_jvp(v, m, ddof) in v: (G + G') Mc / (N - ddof)."""
    mc = _centered_rows(m)
    k = mc.shape[0]
    g2 = np.asarray(g, dtype=np.float64).reshape(k, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (g2 + g2.T) @ mc / (mc.shape[1] - ddof)
    return out.reshape(np.shape(m)).astype(_float_dtype(m))


def _centered_rows(m):
    m2 = np.atleast_2d(np.asarray(m, dtype=np.float64))
    return m2 - np.mean(m2, axis=1, keepdims=True)


def _cov_shaped(c, m):
    dt = _float_dtype(m)
    return np.array(c[0, 0], dtype=dt) if np.ndim(m) == 1 else c.astype(dt)


def variables_grad(g, m, rowvar):
    """The adjoint of variables(m, rowvar): g laid back in m's shape."""
    m = np.asarray(m)
    g = np.asarray(g)
    if not rowvar and m.ndim == 2 and m.shape[0] != 1:
        g = g.T
    return g.reshape(m.shape).astype(_float_dtype(m))


def cov_unstack(g, m, y, rowvar, which):
    """The adjoint of cov_stack(m, y, rowvar) in m (which 0) or in y (which 1)."""
    parts = [np.atleast_2d(np.asarray(a)) for a in (m, y)]
    flip = [not rowvar and p.shape[0] != 1 for p in parts]
    rows = [p.shape[1] if f else p.shape[0] for p, f in zip(parts, flip)]
    start = 0 if which == 0 else rows[0]
    block = np.asarray(g)[start:start + rows[which]]
    if flip[which]:
        block = block.T
    like = np.asarray((m, y)[which])
    return block.reshape(like.shape).astype(_float_dtype(like))


def interp_slope(x, xp, fp):
    """The slope of np.interp(x, xp, fp) in x (x's shape): (fp[i] - fp[i-1]) / (xp[i] -
    xp[i-1]) on the interval i = searchsorted(xp, x, 'right') clipped to [1, len - 1];
    0 outside [xp[0], xp[-1]] and on an interval of zero width. Linear in fp."""
    return _interp_plain(None, x, xp, fp, _SLOPE)


def interp_weights_t(g, x, xp):
    """The adjoint of np.interp(x, xp, fp) in fp (xp's shape)."""
    return _interp_plain(g, x, xp, None, _WEIGHTS_T)


def interp_slope_t(g, x, xp):
    """The adjoint of interp_slope(x, xp, fp) in fp (xp's shape)."""
    return _interp_plain(g, x, xp, None, _SLOPE_T)


def _interp_plain(g, x, xp, fp, mode):
    xf = _f64(x)
    xpf = _f64(xp)
    out = np.zeros(xf.size if mode == _SLOPE else xpf.size)
    _k_interp(_f64(0.0 if g is None else g), xf, xpf, _f64(0.0 if fp is None else fp), mode,
              out)
    if mode == _SLOPE:
        return out.reshape(np.shape(x))[()]
    return out.reshape(np.shape(xp)).astype(_float_dtype(xp))


def correlate_grad_a(g, a, v):
    """The adjoint of np.correlate(a, v) (mode 'valid') in a."""
    out = np.zeros(np.size(a))
    _k_correlate_grad(_f64(g), _f64(a), _f64(v), True, out)
    return out.astype(_float_dtype(a))


def correlate_grad_v(g, a, v):
    """The adjoint of np.correlate(a, v) (mode 'valid') in v."""
    out = np.zeros(np.size(v))
    _k_correlate_grad(_f64(g), _f64(a), _f64(v), False, out)
    return out.astype(_float_dtype(v))


def bessel_i(n, x):
    """The modified Bessel function of the first kind of integer order n, I_n(x)
    (scipy.special.iv(n, x)); d/dx I_n = (I_{n-1} + I_{n+1}) / 2, I_{-n} = I_n."""
    import scipy.special
    out = scipy.special.iv(abs(int(n)), x)
    return out.astype(_float_dtype(x)) if np.ndim(x) else float(out)


def sinc_deriv(n, x):
    """The n-th derivative of np.sinc at x (n >= 0 an int)."""
    if np.ndim(x) == 0:
        return _k_sinc_deriv(int(n), float(x))
    x = np.asarray(x)
    out = np.array([_k_sinc_deriv(int(n), float(t)) for t in x.reshape(-1)])
    return out.reshape(x.shape).astype(_float_dtype(x))


def kaiser_r(M):
    """sqrt(1 - ((k - a) / a)**2) for k = 0 .. M-1, a = (M - 1) / 2: np.kaiser(M, beta)
    is I0(beta * r) / I0(beta). [1.0] for M == 1 (where the window is 1 for every beta)."""
    if M == 1:
        return np.ones(1)
    k = np.arange(max(M, 0))
    a = (M - 1) / 2.0
    return np.sqrt(np.maximum(1.0 - ((k - a) / a) ** 2, 0.0))


def histogram_edges_t(g, a, bins):
    """The adjoint of histogram_edges(a, bins) in a: through the minimum and maximum of a
    (ties share), for an int bins; 0 for explicit edges."""
    a = np.asarray(a)
    if np.ndim(bins):
        return np.zeros(a.shape, _float_dtype(a))
    t = np.linspace(0.0, 1.0, int(bins) + 1)
    g = np.asarray(g, dtype=np.float64)
    lo = pick_grad(float(np.sum(g * (1.0 - t))), ravel(a), 0.0, 0, False, MIN)
    hi = pick_grad(float(np.sum(g * t)), ravel(a), 0.0, 0, False, MAX)
    return (lo + hi).reshape(a.shape).astype(_float_dtype(a))


def histogram_edges_jvp(a, v, bins):
    """The tangent of histogram_edges(a, bins) along v: linspace(v at the minimum of a,
    v at the maximum, bins + 1); zeros for explicit edges. Linear in v."""
    if np.ndim(bins):
        return np.zeros(np.shape(bins), _float_dtype(v))
    a1 = ravel(a)
    v1 = ravel(v)
    return np.linspace(pick(a1, v1, 0.0, 0, False, MIN), pick(a1, v1, 0.0, 0, False, MAX),
                       int(bins) + 1).astype(_float_dtype(v))


# =====================================================================
# Lane kernels: flat C data seen as (pre, n, post) lanes along an axis, float64 inside.
# Called by the plain versions (as Python) and by the compiled ones.
# =====================================================================

_FORWARD, _BACKWARD, _GRADQ, _VALUE = 0, 1, 2, 3        # what _k_pick computes
_SLOPE, _WEIGHTS_T, _SLOPE_T = 0, 1, 2                  # what _k_interp computes
_SUM, _PROD, _MEAN, _FMAX, _FMIN, _RANGE = 0, 1, 2, 3, 4, 5   # what _k_fold computes


@register_jitable
def _lane_order(buf, n, skip_nan, order, tmp):
    """The positions of a lane's numbers in stable sorted order, in order[:count] (a
    bottom-up merge sort: an equal value keeps its place, as JAX's stable sort); count,
    or -1 when the lane holds a NaN and NaN is not skipped."""
    count = 0
    for j in range(n):
        if buf[j] == buf[j]:
            order[count] = j
            count += 1
    if count < n and not skip_nan:
        return -1
    width = 1
    while width < count:
        for lo in range(0, count, 2 * width):
            mid = min(lo + width, count)
            hi = min(lo + 2 * width, count)
            i = lo
            j = mid
            for k in range(lo, hi):
                if j < hi and (i >= mid or buf[order[j]] < buf[order[i]]):
                    tmp[k] = order[j]
                    j += 1
                else:
                    tmp[k] = order[i]
                    i += 1
        for k in range(count):
            order[k] = tmp[k]
        width *= 2
    return count


@register_jitable
def _extreme_weights(buf, n, largest, skip_nan, sign, w):
    """Add sign / count to w at the entries equal to the lane's maximum (or minimum);
    a NaN not skipped makes every weight NaN."""
    best = 0.0
    found = False
    for j in range(n):
        v = buf[j]
        if v != v:
            if skip_nan:
                continue
            for k in range(n):
                w[k] = _NAN
            return
        if not found or (v > best if largest else v < best):
            best = v
            found = True
    count = 0
    for j in range(n):
        if found and buf[j] == best:
            count += 1
    for j in range(n):
        if found and buf[j] == best:
            w[j] += sign / count


@register_jitable
def _k_pick(xf, vf, gf, qf, sf, pre, n, post, kind, slope, mode, out):
    """pick and its relatives, lane by lane: the weights of `kind` from the lane of x
    (for each q), then FORWARD out[q, lane] = s[q] * (w . v), BACKWARD out[lane] +=
    g[q, lane] * s[q] * w, GRADQ out[q] += g[q, lane] * (w . v), VALUE the quantile's
    value (NumPy's: NaN for a lane with a NaN, or with no numbers; NumPy's lerp). Zero
    weights are skipped, so a NaN where nothing is weighted stays out. The quantile's
    weights interpolate at q * (count - 1) (JAX's and NumPy's 'linear'): the weight of
    the high order statistic from the position before clipping, the positions clipped."""
    nq = qf.shape[0]
    span = pre * post
    buf = np.empty(n)
    order = np.empty(n, np.intp)
    tmp = np.empty(n, np.intp)
    w = np.empty(n)
    quantile = kind <= NANQUANTILE
    for i in range(pre):
        for p in range(post):
            base = i * n * post + p
            for j in range(n):
                buf[j] = xf[base + j * post]
            count = _lane_order(buf, n, kind == NANQUANTILE, order, tmp) if quantile else 0
            for qi in range(nq):
                k = qi * span + i * post + p
                for j in range(n):
                    w[j] = 0.0
                q = qf[qi]
                if quantile and count > 0 and q == q:
                    pos = q * (count - 1.0)
                    low = math.floor(pos)
                    hw = pos - low
                    top = count - 1.0
                    jlo = order[int(min(max(low, 0.0), top))]
                    jhi = order[int(min(max(math.ceil(pos), 0.0), top))]
                    if mode == _VALUE:
                        d = buf[jhi] - buf[jlo]
                        out[k] = buf[jlo] + d * hw if hw < 0.5 else buf[jhi] - d * (1.0 - hw)
                        continue
                    w[jlo] += -top if slope else 1.0 - hw
                    w[jhi] += top if slope else hw
                elif mode == _VALUE:
                    out[k] = _NAN
                    continue
                elif not quantile and not slope:
                    skip = kind >= NANMAX
                    if kind != MIN and kind != NANMIN:
                        _extreme_weights(buf, n, True, skip, 1.0, w)
                    if kind != MAX and kind != NANMAX:
                        _extreme_weights(buf, n, False, skip, -1.0 if kind == PTP else 1.0, w)
                if mode == _BACKWARD:
                    gk = gf[k] * sf[qi]
                    for j in range(n):
                        if w[j] != 0.0:
                            out[base + j * post] += gk * w[j]
                    continue
                acc = 0.0
                for j in range(n):
                    if w[j] != 0.0:
                        acc += w[j] * vf[base + j * post]
                if mode == _GRADQ:
                    out[qi] += gf[k] * acc
                else:
                    out[k] = sf[qi] * acc


@register_jitable
def _k_moment(xf, pre, n, post, ddof, skip_nan, root, out):
    """var (std if root) of each lane, two passes; NaN skipped by nanvar. count - ddof
    <= 0: nanvar NaN, var inf (or NaN for a constant lane), as NumPy."""
    for i in range(pre):
        for p in range(post):
            base = i * n * post + p
            s = 0.0
            c = 0
            for j in range(n):
                v = xf[base + j * post]
                if skip_nan and v != v:
                    continue
                s += v
                c += 1
            mean = s / c if c > 0 else _NAN
            ss = 0.0
            for j in range(n):
                v = xf[base + j * post]
                if skip_nan and v != v:
                    continue
                ss += (v - mean) * (v - mean)
            den = c - ddof
            if den > 0:
                var = ss / den
            elif skip_nan or not ss > 0.0:
                var = _NAN
            else:
                var = math.inf
            out[i * post + p] = math.sqrt(var) if root else var


@register_jitable
def _k_fold(xf, pre, n, post, op, out):
    """nansum, nanprod, nanmean, nanmax, nanmin (NaN left out) or ptp of each lane."""
    for i in range(pre):
        for p in range(post):
            base = i * n * post + p
            acc = 1.0 if op == _PROD else 0.0
            hi = -math.inf
            lo = math.inf
            c = 0
            poisoned = False
            for j in range(n):
                v = xf[base + j * post]
                if v != v:
                    poisoned = True
                    continue
                c += 1
                if op == _PROD:
                    acc *= v
                else:
                    acc += v
                hi = max(hi, v)
                lo = min(lo, v)
            if op == _MEAN:
                acc = acc / c if c > 0 else _NAN
            elif op == _FMAX:
                acc = hi if c > 0 else _NAN
            elif op == _FMIN:
                acc = lo if c > 0 else _NAN
            elif op == _RANGE:
                acc = _NAN if poisoned or c == 0 else hi - lo
            out[i * post + p] = acc


@register_jitable
def _k_nan_center(vf, xf, pre, n, post, out):
    for i in range(pre):
        for p in range(post):
            base = i * n * post + p
            s = 0.0
            c = 0
            for j in range(n):
                if xf[base + j * post] == xf[base + j * post]:
                    s += vf[base + j * post]
                    c += 1
            mean = s / max(c, 1)
            for j in range(n):
                k = base + j * post
                out[k] = vf[k] - mean if xf[k] == xf[k] else 0.0


@register_jitable
def _k_prod_others(yf, pre, n, post, out):
    """Exclusive products: prefix times suffix, no division."""
    for i in range(pre):
        for p in range(post):
            base = i * n * post + p
            acc = 1.0
            for j in range(n):
                out[base + j * post] = acc
                acc *= yf[base + j * post]
            acc = 1.0
            for j in range(n - 1, -1, -1):
                out[base + j * post] *= acc
                acc *= yf[base + j * post]


@register_jitable
def _k_prod_others_grad(gf, yf, pre, n, post, out):
    """out[k] = sum_{i != k} g[i] prod_{j != i, k} y[j], in O(n) per lane: with prefix
    products L and suffix products R, out[k] = A[k] R[k] + L[k] B[k], where A[k+1] =
    A[k] y[k] + g[k] L[k] and B[k-1] = B[k] y[k] + g[k] R[k]."""
    left = np.empty(n)
    right = np.empty(n)
    for i in range(pre):
        for p in range(post):
            base = i * n * post + p
            acc = 1.0
            for j in range(n):
                left[j] = acc
                acc *= yf[base + j * post]
            acc = 1.0
            for j in range(n - 1, -1, -1):
                right[j] = acc
                acc *= yf[base + j * post]
            a = 0.0
            for j in range(n):
                out[base + j * post] = a * right[j]
                a = a * yf[base + j * post] + gf[base + j * post] * left[j]
            b = 0.0
            for j in range(n - 1, -1, -1):
                out[base + j * post] += left[j] * b
                b = b * yf[base + j * post] + gf[base + j * post] * right[j]


@register_jitable
def _k_trapezoid_grad(gf, yf, xf, x1d, pre, n, post, in_y, out):
    """The adjoint of the trapezoid rule in y (in_y) or in x, lane by lane; x 1-D along
    the axis (x1d: its adjoint sums over the lanes) or of y's shape."""
    for i in range(pre):
        for p in range(post):
            base = i * n * post + p
            g = gf[i * post + p]
            for j in range(n):
                if n == 1:
                    break
                k = base + j * post
                if in_y:
                    xl = xf[j - 1 if j > 0 else 0] if x1d else xf[k - post if j > 0 else k]
                    xr = xf[j + 1 if j < n - 1 else j] if x1d else xf[k + post if j < n - 1 else k]
                    out[k] += g * 0.5 * (xr - xl)
                    continue
                yl = yf[k - post] if j > 0 else 0.0
                yc = yf[k]
                yr = yf[k + post] if j < n - 1 else 0.0
                d = 0.0
                if j > 0:
                    d += 0.5 * (yl + yc)
                if j < n - 1:
                    d -= 0.5 * (yc + yr)
                out[j if x1d else k] += g * d


@register_jitable
def _search_right(xpf, x):
    """np.searchsorted(xp, x, side='right'): the number of knots <= x."""
    lo = 0
    hi = xpf.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if xpf[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@register_jitable
def _k_interp(gf, xf, xpf, fpf, mode, out):
    """interp_slope (SLOPE, out like x) or the adjoints in fp of np.interp (WEIGHTS_T)
    and of interp_slope (SLOPE_T), out like xp."""
    n = xpf.shape[0]
    for k in range(xf.shape[0]):
        x = xf[k]
        g = gf[k] if mode != _SLOPE else 0.0
        if n == 1 or x < xpf[0] or x > xpf[n - 1]:
            if mode == _WEIGHTS_T:
                out[n - 1 if n > 1 and x > xpf[n - 1] else 0] += g
            elif mode == _SLOPE:
                out[k] = 0.0
            continue
        i = min(max(_search_right(xpf, x), 1), n - 1)
        d = xpf[i] - xpf[i - 1]
        if d == 0.0:
            if mode == _WEIGHTS_T:
                out[i - 1] += g
            elif mode == _SLOPE:
                out[k] = 0.0
            continue
        if mode == _SLOPE:
            out[k] = (fpf[i] - fpf[i - 1]) / d
        elif mode == _SLOPE_T:
            out[i - 1] -= g / d
            out[i] += g / d
        else:
            t = (x - xpf[i - 1]) / d
            out[i - 1] += (1.0 - t) * g
            out[i] += t * g


@register_jitable
def _k_correlate_grad(gf, af, vf, in_a, out):
    """np.correlate(a, v) ('valid') is out[k] = sum_i a[i] v[i - k + s], s = max(len(v) -
    len(a), 0) (NumPy swaps and reverses when v is longer): its adjoints in a and in v."""
    na = af.shape[0]
    nv = vf.shape[0]
    s = max(nv - na, 0)
    for k in range(gf.shape[0]):
        for i in range(na):
            j = i - k + s
            if 0 <= j < nv:
                if in_a:
                    out[i] += gf[k] * vf[j]
                else:
                    out[j] += gf[k] * af[i]


@register_jitable
def _k_sinc_deriv(n, x):
    """The n-th derivative of sinc(x) = sin(pi x) / (pi x): pi**n S^(n)(u) at u = pi x,
    S(u) = sin(u) / u, from its Maclaurin series for |u| < 2, else from the recurrence
    u S^(j) + j S^(j-1) = sin^(j)(u) (each step divides the error by |u| / j >= 1 for
    the orders rules reach)."""
    u = math.pi * x
    if abs(u) < 2.0:
        k = (n + 1) // 2
        m = 2 * k - n
        t = u if m == 1 else 1.0
        s = 0.0
        for _ in range(40):
            s += (-1.0 if k % 2 else 1.0) * t / (2 * k + 1)
            t *= u * u / ((m + 1) * (m + 2))
            k += 1
            m += 2
    else:
        su = math.sin(u)
        cu = math.cos(u)
        s = su / u
        for j in range(1, n + 1):
            r = j % 4
            dsin = su if r == 0 else cu if r == 1 else -su if r == 2 else -cu
            s = (dsin - j * s) / u
    return s * math.pi ** n


@register_jitable
def _k_bessel_i(n, x):
    """I_n(x) for an integer n by its power series (positive terms for |x|: full
    relative accuracy), sum_k (x/2)^(2k+n) / (k! (k+n)!)."""
    n = abs(n)
    h = abs(x) / 2.0
    term = 1.0
    for k in range(1, n + 1):
        term *= h / k
    s = term
    k = 0
    while k < 100000:
        k += 1
        term *= h * h / (k * (k + n))
        s += term
        if term <= 1e-17 * s and k > h:
            break
    return -s if x < 0 and n % 2 == 1 else s


@register_jitable
def _hist_edges(af, bins, lo, hi, auto):
    """np.histogram's edges for an int bins: linspace(lo, hi, bins + 1), lo and hi the
    minimum and maximum of a when auto (0 and 1 for an empty a), 0.5 apart when equal."""
    if auto:
        if af.shape[0] == 0:
            lo = 0.0
            hi = 1.0
        else:
            lo = math.inf
            hi = -math.inf
            for k in range(af.shape[0]):
                lo = min(lo, af[k])
                hi = max(hi, af[k])
    if lo == hi:
        lo -= 0.5
        hi += 0.5
    return np.linspace(lo, hi, bins + 1)


@register_jitable
def _k_hist_counts(af, edges, uniform, out):
    """np.histogram's counts: values in [edges[0], edges[-1]] (the last bin closed), by
    NumPy's uniform-bin index with its corrections, or by binary search."""
    nb = edges.shape[0] - 1
    first = edges[0]
    last = edges[nb]
    norm = nb / (last - first) if uniform else 0.0
    for k in range(af.shape[0]):
        v = af[k]
        if not (v >= first and v <= last):
            continue
        if uniform:
            b = int((v - first) * norm)
            if b >= nb:
                b = nb - 1
            if v < edges[b]:
                b -= 1
            elif b != nb - 1 and v >= edges[b + 1]:
                b += 1
        else:
            b = min(_search_right(edges, v) - 1, nb - 1)
        out[b] += 1


@register_jitable
def _k_cov(mf, vf, gf, k, nobs, f, mode, out):
    """On centered copies of the k x nobs rows of m (and v): cov (mode 0, k x k), cov_jvp
    (mode 1, k x k) and cov_grad (mode 2, k x nobs)."""
    mc = np.empty((k, nobs))
    vc = np.empty((k, nobs))
    for r in range(k):
        sm = 0.0
        sv = 0.0
        for c in range(nobs):
            sm += mf[r * nobs + c]
            sv += vf[r * nobs + c]
        for c in range(nobs):
            mc[r, c] = mf[r * nobs + c] - sm / nobs
            vc[r, c] = vf[r * nobs + c] - sv / nobs
    if mode == 2:
        for r in range(k):
            for c in range(nobs):
                acc = 0.0
                for s in range(k):
                    acc += (gf[r * k + s] + gf[s * k + r]) * mc[s, c]
                out[r * nobs + c] = acc / f
        return
    for r in range(k):
        for s in range(k):
            acc = 0.0
            for c in range(nobs):
                acc += vc[r, c] * mc[s, c] + (mc[r, c] * vc[s, c] if mode == 1 else 0.0)
            out[r * k + s] = acc / f


@register_jitable
def _k_average(af, wf, w1d, pre, n, post, out):
    """sum(a * w) / sum(w) of each lane; w 1-D along the axis (w1d) or of a's shape."""
    for i in range(pre):
        for p in range(post):
            base = i * n * post + p
            s = 0.0
            sw = 0.0
            for j in range(n):
                w = wf[j] if w1d else wf[base + j * post]
                s += af[base + j * post] * w
                sw += w
            out[i * post + p] = s / sw


@register_jitable
def _k_trapezoid(yf, xf, dx, x1d, pre, n, post, out):
    """The trapezoid rule along each lane, with spacing x (1-D along the axis, or of y's
    shape) or, for an empty xf, the constant dx."""
    for i in range(pre):
        for p in range(post):
            base = i * n * post + p
            s = 0.0
            for j in range(n - 1):
                k = base + j * post
                if xf.shape[0] == 0:
                    d = dx
                elif x1d:
                    d = xf[j + 1] - xf[j]
                else:
                    d = xf[k + post] - xf[k]
                s += d * (yf[k] + yf[k + post]) / 2.0
            out[i * post + p] = s


# =====================================================================
# Compiled versions
# =====================================================================

def _need_array(x, name, ints=False):
    ok = isinstance(x, types.Array) and (
        x.dtype in (types.float32, types.float64) or ints and isinstance(x.dtype, types.Integer))
    if not ok:
        raise TypingError(f"srcgrad.runtime.stats.{name}: expected a float64 or float32 array, got {x}")


def _need_scalar(x, name, what):
    if not isinstance(x, (types.Integer, types.Float)):
        raise TypingError(f"srcgrad.runtime.stats.{name}: {what} must be a number, got {x}")


def _dt(*ts):
    """float32 when every array among ts is float32 (scalars do not count), else float64."""
    arrays = [t for t in ts if isinstance(t, types.Array)]
    return np.float32 if arrays and all(t.dtype == types.float32 for t in arrays) else np.float64


def _literal_bool(keepdims, name):
    if isinstance(keepdims, bool):
        return keepdims
    if isinstance(keepdims, types.Omitted):
        return bool(keepdims.value)
    if isinstance(keepdims, types.BooleanLiteral):
        return keepdims.literal_value
    raise TypingError(f"srcgrad.runtime.stats.{name}: keepdims must be a constant True or False, "
                      f"got {keepdims}")


def _need_int(axis, name, what="axis"):
    if not isinstance(axis, types.Integer):
        raise TypingError(f"srcgrad.runtime.stats.{name}: {what} must be an int, got {axis}")


@register_jitable
def _out_shape(shape, axis, keep, qshape):
    """q's shape, then `shape` without dimension `axis` (or with 1 there, keep)."""
    nd = shape.shape[0]
    ax = axis + nd if axis < 0 else axis
    m = qshape.shape[0]
    out = np.empty(m + nd - (0 if keep else 1), np.intp)
    for d in range(m):
        out[d] = qshape[d]
    e = m
    for d in range(nd):
        if d == ax:
            if keep:
                out[e] = 1
                e += 1
        else:
            out[e] = shape[d]
            e += 1
    return out


_SHAPERS: dict = {}


def _shaper(ndim, keep):
    """A jitable (out, shape, axis, qshape) -> result: the flat result in NumPy's shape of
    `ndim` dimensions (a float for 0)."""
    key = (ndim, keep)
    if key not in _SHAPERS:
        if ndim == 0:
            def shaped(out, shape, axis, qshape):
                return out[0]
        else:
            def shaped(out, shape, axis, qshape):
                return out.reshape(to_fixed_tuple(_out_shape(shape, axis, keep, qshape), ndim))
        _SHAPERS[key] = register_jitable(shaped)
    return _SHAPERS[key]


@register_jitable
def _no_q():
    return np.empty(0, np.intp)


def _moment_overload(name, skip_nan, root):
    def ov(x, axis, ddof, keepdims):
        _need_array(x, name)
        _need_int(axis, name)
        keep = _literal_bool(keepdims, name)
        shaped = _shaper(x.ndim - (0 if keep else 1), keep)
        dt = _dt(x)

        def impl(x, axis, ddof, keepdims):
            shape = shape_array(x)
            pre, n, post = lanes(shape, axis)
            out = np.empty(pre * post, dt)
            _k_moment(flat(x), pre, n, post, ddof, skip_nan, root, out)
            return shaped(out, shape, axis, _no_q())
        return impl
    return ov


for _f, _skip, _root in ((var_axis, False, False), (std_axis, False, True),
                         (nanvar_axis, True, False), (nanstd_axis, True, True)):
    overload(_f, prefer_literal=True)(_moment_overload(_f.__name__, _skip, _root))


def _fold_overload(name, op):
    def ov(x, axis, keepdims):
        _need_array(x, name)
        _need_int(axis, name)
        keep = _literal_bool(keepdims, name)
        shaped = _shaper(x.ndim - (0 if keep else 1), keep)
        dt = _dt(x)

        def impl(x, axis, keepdims):
            shape = shape_array(x)
            pre, n, post = lanes(shape, axis)
            out = np.empty(pre * post, dt)
            _k_fold(flat(x), pre, n, post, op, out)
            return shaped(out, shape, axis, _no_q())
        return impl
    return ov


for _f, _op in ((nansum_axis, _SUM), (nanprod_axis, _PROD), (nanmean_axis, _MEAN),
                (nanmax_axis, _FMAX), (nanmin_axis, _FMIN), (ptp_axis, _RANGE)):
    overload(_f, prefer_literal=True)(_fold_overload(_f.__name__, _op))


@register_jitable
def _q_values(x, q, scale, axis, kind):
    shape = shape_array(x)
    pre, n, post = lanes(shape, axis)
    qf = flat(q) * scale
    out = np.empty(qf.shape[0] * pre * post, np.float64)
    _k_pick(flat(x), qf, qf, qf, qf, pre, n, post, kind, False, _VALUE, out)
    return out


def _quantile_overload(name, kind, scale):
    def ov(x, q, axis, keepdims):
        _need_array(x, name)
        _need_int(axis, name)
        keep = _literal_bool(keepdims, name)
        qnd = q.ndim if isinstance(q, types.Array) else 0
        shaped = _shaper(qnd + x.ndim - (0 if keep else 1), keep)
        dt = _dt(x)

        def impl(x, q, axis, keepdims):
            out = _q_values(x, q, scale, axis, kind).astype(dt)
            return shaped(out, shape_array(x), axis, shape_array(q))
        return impl
    return ov


def _median_overload(name, kind):
    def ov(x, axis, keepdims):
        _need_array(x, name)
        _need_int(axis, name)
        keep = _literal_bool(keepdims, name)
        shaped = _shaper(x.ndim - (0 if keep else 1), keep)
        dt = _dt(x)

        def impl(x, axis, keepdims):
            out = _q_values(x, 0.5, 1.0, axis, kind).astype(dt)
            return shaped(out, shape_array(x), axis, _no_q())
        return impl
    return ov


overload(median_axis, prefer_literal=True)(_median_overload("median_axis", QUANTILE))
overload(nanmedian_axis, prefer_literal=True)(_median_overload("nanmedian_axis", NANQUANTILE))
for _f, _kind, _scale in ((quantile_axis, QUANTILE, 1.0), (nanquantile_axis, NANQUANTILE, 1.0),
                          (percentile_axis, QUANTILE, 0.01),
                          (nanpercentile_axis, NANQUANTILE, 0.01)):
    overload(_f, prefer_literal=True)(_quantile_overload(_f.__name__, _kind, _scale))


@register_jitable
def _pick_run(x, v, g, q, w, axis, kind, slope, mode):
    shape = shape_array(x)
    pre, n, post = lanes(shape, axis)
    qf = flat(q)
    wf = np.empty(qf.shape[0])
    wsrc = flat(w)
    for k in range(qf.shape[0]):
        wf[k] = wsrc[k if wsrc.shape[0] > 1 else 0]
    if mode == _BACKWARD:
        size = pre * n * post
    elif mode == _GRADQ:
        size = qf.shape[0]
    else:
        size = qf.shape[0] * pre * post
    out = np.zeros(size)
    gf = flat(g)
    _k_pick(flat(x), flat(v), gf, qf, wf, pre, n, post, kind, slope, mode, out)
    return out


def _pick_checks(name, x, v, q, w, axis):
    _need_array(x, name)
    if v is not None:
        _need_array(v, name)
    _need_int(axis, name)
    for t, what in ((q, "q"), (w, "w")):
        if t is not None and not isinstance(t, types.Array):
            _need_scalar(t, name, what)


def _forward_shaper(name, x, v, q, w, axis, keepdims):
    _pick_checks(name, x, v, q, w, axis)
    keep = _literal_bool(keepdims, name)
    qnd = q.ndim if isinstance(q, types.Array) else 0
    return _shaper(qnd + x.ndim - (0 if keep else 1), keep), _dt(v)


@overload(pick, prefer_literal=True)
def _ov_pick(x, v, q, axis, keepdims, kind):
    shaped, dt = _forward_shaper("pick", x, v, q, None, axis, keepdims)

    def impl(x, v, q, axis, keepdims, kind):
        out = _pick_run(x, v, 0.0, q, 1.0, axis, kind, False, _FORWARD).astype(dt)
        return shaped(out, shape_array(x), axis, shape_array(q))
    return impl


@overload(pick_dq, prefer_literal=True)
def _ov_pick_dq(x, v, q, w, axis, keepdims, kind):
    shaped, dt = _forward_shaper("pick_dq", x, v, q, w, axis, keepdims)

    def impl(x, v, q, w, axis, keepdims, kind):
        out = _pick_run(x, v, 0.0, q, w, axis, kind, True, _FORWARD).astype(dt)
        return shaped(out, shape_array(x), axis, shape_array(q))
    return impl


@overload(pick_grad)
def _ov_pick_grad(g, x, q, axis, keepdims, kind):
    _pick_checks("pick_grad", x, None, q, None, axis)
    dt = _dt(x)

    def impl(g, x, q, axis, keepdims, kind):
        return _pick_run(x, x, g, q, 1.0, axis, kind, False, _BACKWARD).astype(dt).reshape(x.shape)
    return impl


@overload(pick_dq_grad)
def _ov_pick_dq_grad(g, x, q, w, axis, keepdims, kind):
    _pick_checks("pick_dq_grad", x, None, q, w, axis)
    dt = _dt(x)

    def impl(g, x, q, w, axis, keepdims, kind):
        return _pick_run(x, x, g, q, w, axis, kind, True, _BACKWARD).astype(dt).reshape(x.shape)
    return impl


@overload(pick_grad_q)
def _ov_pick_grad_q(g, x, v, q, axis, keepdims, kind):
    _pick_checks("pick_grad_q", x, v, q, None, axis)
    if isinstance(q, types.Array):
        dt = _dt(q) if q.dtype in (types.float32, types.float64) else np.float64

        def impl(g, x, v, q, axis, keepdims, kind):
            out = _pick_run(x, v, g, q, 1.0, axis, kind, True, _GRADQ)
            return out.astype(dt).reshape(q.shape)
        return impl
    return lambda g, x, v, q, axis, keepdims, kind: \
        _pick_run(x, v, g, q, 1.0, axis, kind, True, _GRADQ)[0]


@overload(average, prefer_literal=True)
def _ov_average(a, weights, axis, keepdims):
    _need_array(a, "average", ints=True)
    _need_array(weights, "average", ints=True)
    _need_int(axis, "average")
    keep = _literal_bool(keepdims, "average")
    if weights.ndim not in (1, a.ndim):
        raise TypingError("srcgrad.runtime.stats.average: weights must have a's shape or be 1-D")
    w1d = weights.ndim != a.ndim
    shaped = _shaper(a.ndim - (0 if keep else 1), keep)
    dt = _dt(a, weights)

    def impl(a, weights, axis, keepdims):
        shape = shape_array(a)
        pre, n, post = lanes(shape, axis)
        if (weights.shape[0] if w1d else weights.size) != (n if w1d else a.size):
            raise ValueError("srcgrad: the weights do not match a")
        out = np.empty(pre * post, dt)
        _k_average(flat(a), flat(weights), w1d, pre, n, post, out)
        return shaped(out, shape, axis, _no_q())
    return impl


def _trapezoid_overload(name, spaced):
    def ov(y, x, axis):
        _need_array(y, name, ints=True)
        _need_int(axis, name)
        if spaced:
            _need_array(x, name, ints=True)
            if x.ndim not in (1, y.ndim):
                raise TypingError(f"srcgrad.runtime.stats.{name}: x must be 1-D or of y's shape")
        else:
            _need_scalar(x, name, "dx")
        x1d = spaced and x.ndim == 1 and y.ndim > 1
        shaped = _shaper(y.ndim - 1, False)
        dt = _dt(y, x)

        def impl(y, x, axis):
            shape = shape_array(y)
            pre, n, post = lanes(shape, axis)
            out = np.empty(pre * post, dt)
            if spaced:
                _k_trapezoid(flat(y), flat(x), 0.0, x1d, pre, n, post, out)
            else:
                _k_trapezoid(flat(y), np.empty(0), float(x), False, pre, n, post, out)
            return shaped(out, shape, axis, _no_q())
        return impl
    return ov


overload(trapezoid_x)(_trapezoid_overload("trapezoid_x", True))
overload(trapezoid_dx)(_trapezoid_overload("trapezoid_dx", False))


@register_jitable
def _rows(m):
    """(rows, observations) of m seen as variables by rows (a 1-D m: one row)."""
    if m.ndim == 1:
        return 1, m.shape[0]
    return m.shape[0], m.shape[m.ndim - 1]


def _cov_result(m, dt):
    """A jitable (out, m) -> the k x k result, or a 0-d array for a 1-D m (as np.cov)."""
    if m.ndim == 1:
        return register_jitable(lambda out, m: np.array(dt(out[0])))
    return register_jitable(lambda out, m: out.astype(dt).reshape((m.shape[0], m.shape[0])))


def _need_rows(m, name):
    _need_array(m, name, ints=True)
    if m.ndim not in (1, 2):
        raise TypingError(f"srcgrad.runtime.stats.{name}: expected a 1-D or 2-D array, got {m}")


@overload(cov)
def _ov_cov(m, ddof):
    _need_rows(m, "cov")
    _need_scalar(ddof, "cov", "ddof")
    result = _cov_result(m, _dt(m))

    def impl(m, ddof):
        k, nobs = _rows(m)
        out = np.empty(k * k)
        mf = flat(m)
        _k_cov(mf, mf, mf, k, nobs, nobs - ddof, 0, out)
        return result(out, m)
    return impl


@overload(cov_jvp)
def _ov_cov_jvp(m, v, ddof):
    _need_rows(m, "cov_jvp")
    _need_rows(v, "cov_jvp")
    result = _cov_result(m, _dt(m, v))

    def impl(m, v, ddof):
        k, nobs = _rows(m)
        out = np.empty(k * k)
        _k_cov(flat(m), flat(v), flat(m), k, nobs, nobs - ddof, 1, out)
        return result(out, m)
    return impl


@overload(cov_grad)
def _ov_cov_grad(g, m, ddof):
    _need_rows(m, "cov_grad")
    dt = _dt(m)

    def impl(g, m, ddof):
        k, nobs = _rows(m)
        gf = flat(g)
        if gf.shape[0] != k * k:
            raise ValueError("srcgrad: adjoint shape does not match np.cov")
        out = np.empty(k * nobs)
        mf = flat(m)
        _k_cov(mf, mf, gf, k, nobs, nobs - ddof, 2, out)
        return out.astype(dt).reshape(m.shape)
    return impl


@register_jitable
def _transposed(m):
    out = np.empty((m.shape[1], m.shape[0]), np.float64)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            out[j, i] = m[i, j]
    return out


@overload(variables)
def _ov_variables(m, rowvar):
    _need_rows(m, "variables")
    dt = _dt(m)
    if m.ndim == 1:
        return lambda m, rowvar: m.astype(dt)

    def impl(m, rowvar):
        if not rowvar and m.shape[0] != 1:
            return _transposed(m).astype(dt)
        return m.astype(dt)
    return impl


@overload(variables_grad)
def _ov_variables_grad(g, m, rowvar):
    _need_rows(m, "variables_grad")
    dt = _dt(m)
    if m.ndim == 1:
        return lambda g, m, rowvar: g.astype(dt).reshape(m.shape)

    def impl(g, m, rowvar):
        if not rowvar and m.shape[0] != 1:
            return _transposed(g).astype(dt)
        return g.astype(dt).reshape(m.shape)
    return impl


@register_jitable
def _as_rows(m, rowvar):
    """np.cov's view of m as variables by rows (float64, 2-D)."""
    if m.ndim == 1:
        return m.astype(np.float64).reshape((1, m.shape[0]))
    if not rowvar and m.shape[0] != 1:
        return _transposed(m)
    return m.astype(np.float64).reshape((m.shape[0], m.shape[m.ndim - 1]))


@overload(cov_stack)
def _ov_cov_stack(m, y, rowvar):
    _need_rows(m, "cov_stack")
    _need_rows(y, "cov_stack")

    def impl(m, y, rowvar):
        a = _as_rows(m, rowvar)
        b = _as_rows(y, rowvar)
        if a.shape[1] != b.shape[1]:
            raise ValueError("srcgrad: m and y of np.cov have different numbers of observations")
        out = np.empty((a.shape[0] + b.shape[0], a.shape[1]))
        out[:a.shape[0]] = a
        out[a.shape[0]:] = b
        return out
    return impl


def _unrows_impl(like, dt):
    """A jitable (block, like, rowvar) -> block laid back in like's shape (the inverse of
    _as_rows)."""
    if like.ndim == 1:
        return register_jitable(lambda block, like, rowvar: block.astype(dt).reshape(like.shape))

    def unrows(block, like, rowvar):
        if not rowvar and like.shape[0] != 1:
            return _transposed(block).astype(dt)
        return block.astype(dt).reshape(like.shape)
    return register_jitable(unrows)


@overload(cov_unstack, prefer_literal=True)
def _ov_cov_unstack(g, m, y, rowvar, which):
    _need_rows(m, "cov_unstack")
    _need_rows(y, "cov_unstack")
    if not isinstance(which, types.IntegerLiteral):
        raise TypingError("srcgrad.runtime.stats.cov_unstack: which must be a constant 0 or 1")
    if which.literal_value:
        unrows = _unrows_impl(y, _dt(y))

        def impl_y(g, m, y, rowvar, which):
            start = _as_rows(m, rowvar).shape[0]
            k = _as_rows(y, rowvar).shape[0]
            return unrows(np.ascontiguousarray(g[start:start + k]), y, rowvar)
        return impl_y
    unrows = _unrows_impl(m, _dt(m))

    def impl_m(g, m, y, rowvar, which):
        k = _as_rows(m, rowvar).shape[0]
        return unrows(np.ascontiguousarray(g[:k]), m, rowvar)
    return impl_m


@overload(standardize)
def _ov_standardize(m):
    _need_rows(m, "standardize")
    dt = _dt(m)

    def impl(m):
        k, n = _rows(m)
        mf = flat(m)
        sd = np.empty(k)
        _k_moment(mf, k, n, 1, 1, False, True, sd)
        out = np.empty(k * n, dt)
        for i in range(k):
            s = 0.0
            for j in range(n):
                s += mf[i * n + j]
            mean = s / n
            for j in range(n):
                out[i * n + j] = (mf[i * n + j] - mean) / sd[i] if sd[i] != 0.0 else _NAN
        return out.reshape(m.shape)
    return impl


@register_jitable
def _finite_edges(edges):
    if not (np.isfinite(edges[0]) and np.isfinite(edges[edges.shape[0] - 1])):
        raise ValueError("srcgrad: the range of np.histogram's data is not finite")
    return edges


@overload(histogram_counts)
def _ov_histogram_counts(a, bins=10, range=None):
    _need_array(a, "histogram_counts", ints=True)
    uniform = isinstance(bins, (int, types.Integer))
    auto = is_none_type(range)

    def impl(a, bins=10, range=None):
        af = flat(a).astype(np.float64)
        if uniform and auto:
            edges = _finite_edges(_hist_edges(af, bins, 0.0, 0.0, True))
        elif uniform:
            edges = _hist_edges(af, bins, float(range[0]), float(range[1]), False)
        else:
            edges = flat(bins).astype(np.float64)
        out = np.zeros(edges.shape[0] - 1, np.intp)
        _k_hist_counts(af, edges, uniform, out)
        return out
    return impl


@overload(histogram_edges)
def _ov_histogram_edges(a, bins=10):
    _need_array(a, "histogram_edges", ints=True)
    if isinstance(bins, (int, types.Integer)):
        return lambda a, bins=10: _finite_edges(
            _hist_edges(flat(a).astype(np.float64), bins, 0.0, 0.0, True))
    return lambda a, bins=10: flat(bins).astype(np.float64)


@overload(histogram_edges_range)
def _ov_histogram_edges_range(a, bins, lo, hi):
    if isinstance(bins, (int, types.Integer)):
        return lambda a, bins, lo, hi: _hist_edges(np.empty(0), bins, float(lo), float(hi), False)
    return lambda a, bins, lo, hi: flat(bins).astype(np.float64)


@overload(histogram_edges_t)
def _ov_histogram_edges_t(g, a, bins):
    _need_array(a, "histogram_edges_t")
    dt = _dt(a)
    if not isinstance(bins, (int, types.Integer)):
        return lambda g, a, bins: np.zeros(a.shape, dt)

    def impl(g, a, bins):
        gf = flat(g)
        s_lo = 0.0
        s_hi = 0.0
        for k in range(bins + 1):
            t = k / bins
            s_lo += gf[k] * (1.0 - t)
            s_hi += gf[k] * t
        af = flat(a)
        lo = _pick_run(af, af, s_lo, 0.0, 1.0, 0, MIN, False, _BACKWARD)
        hi = _pick_run(af, af, s_hi, 0.0, 1.0, 0, MAX, False, _BACKWARD)
        return (lo + hi).astype(dt).reshape(a.shape)
    return impl


@overload(histogram_edges_jvp)
def _ov_histogram_edges_jvp(a, v, bins):
    _need_array(a, "histogram_edges_jvp")
    _need_array(v, "histogram_edges_jvp")
    dt = _dt(v)
    if not isinstance(bins, (int, types.Integer)):
        return lambda a, v, bins: np.zeros(bins.shape[0], dt)

    def impl(a, v, bins):
        af = flat(a)
        vf = flat(v)
        lo = _pick_run(af, vf, 0.0, 0.0, 1.0, 0, MIN, False, _FORWARD)[0]
        hi = _pick_run(af, vf, 0.0, 0.0, 1.0, 0, MAX, False, _FORWARD)[0]
        return np.linspace(lo, hi, bins + 1).astype(dt)
    return impl


@overload(ravel)
def _ov_ravel(x):
    if not isinstance(x, types.Array):
        _need_scalar(x, "ravel", "x")
        return lambda x: np.full(1, x)
    return lambda x: x.flatten()


@overload(keep_all)
def _ov_keep_all(r, x):
    if not isinstance(x, types.Array):
        return lambda r, x: r
    nd = x.ndim
    dt = _dt(x)

    def impl(r, x):
        return np.full(to_fixed_tuple(np.ones(nd, np.intp), nd), r, dt)
    return impl


@overload(dof)
def _ov_dof(x, axis, ddof):
    _need_array(x, "dof", ints=True)
    return lambda x, axis, ddof: float(lanes(shape_array(x), axis)[1] - ddof)


def _elementwise(name, kernel, x):
    """A one-argument map over a float or array (float32 kept), as NumPy's ufuncs."""
    if isinstance(x, types.Array):
        _need_array(x, name)
        dt = _dt(x)

        def impl(x):
            xf = flat(x)
            out = np.empty(xf.shape[0], dt)
            for k in range(xf.shape[0]):
                out[k] = kernel(xf[k])
            return out.reshape(x.shape)
        return impl
    _need_scalar(x, name, "x")
    return lambda x: kernel(x)


@register_jitable
def _mask1(v):
    return 1.0 if v == v else 0.0


@register_jitable
def _one1(v):
    return v if v == v else 1.0


overload(nan_mask)(lambda x: _elementwise("nan_mask", _mask1, x))
overload(nan_one)(lambda x: _elementwise("nan_one", _one1, x))


@overload(nan_weights)
def _ov_nan_weights(x, axis):
    _need_array(x, "nan_weights")
    dt = _dt(x)

    def impl(x, axis):
        pre, n, post = lanes(shape_array(x), axis)
        xf = flat(x)
        out = np.empty(xf.shape[0], dt)
        for i in range(pre):
            for p in range(post):
                base = i * n * post + p
                c = 0
                for j in range(n):
                    if xf[base + j * post] == xf[base + j * post]:
                        c += 1
                for j in range(n):
                    v = xf[base + j * post]
                    out[base + j * post] = 1.0 / c if v == v else 0.0
        return out.reshape(x.shape)
    return impl


@overload(nan_dof, prefer_literal=True)
def _ov_nan_dof(x, axis, ddof, keepdims):
    _need_array(x, "nan_dof")
    keep = _literal_bool(keepdims, "nan_dof")
    shaped = _shaper(x.ndim - (0 if keep else 1), keep)

    def impl(x, axis, ddof, keepdims):
        shape = shape_array(x)
        pre, n, post = lanes(shape, axis)
        xf = flat(x)
        out = np.empty(pre * post)
        for i in range(pre):
            for p in range(post):
                c = 0
                for j in range(n):
                    v = xf[i * n * post + j * post + p]
                    if v == v:
                        c += 1
                out[i * post + p] = c - ddof if c > 0 else 1.0
        return shaped(out, shape, axis, _no_q())
    return impl


def _lane_map_overload(name, kernel, two):
    """(v, x, axis) or (x, axis) -> an array of x's shape, lane by lane."""
    if two:
        def ov2(v, x, axis):
            _need_array(v, name)
            _need_array(x, name)
            dt = _dt(v)

            def impl(v, x, axis):
                pre, n, post = lanes(shape_array(x), axis)
                vf = flat(v)
                if vf.shape[0] != pre * n * post:
                    raise ValueError("srcgrad: shapes do not match")
                out = np.empty(vf.shape[0])
                kernel(vf, flat(x), pre, n, post, out)
                return out.astype(dt).reshape(x.shape)
            return impl
        return ov2

    def ov1(y, axis):
        _need_array(y, name)
        dt = _dt(y)

        def impl(y, axis):
            pre, n, post = lanes(shape_array(y), axis)
            out = np.empty(pre * n * post)
            kernel(flat(y), pre, n, post, out)
            return out.astype(dt).reshape(y.shape)
        return impl
    return ov1


overload(nan_center)(_lane_map_overload("nan_center", _k_nan_center, True))
overload(prod_others)(_lane_map_overload("prod_others", _k_prod_others, False))
overload(prod_others_grad)(_lane_map_overload("prod_others_grad", _k_prod_others_grad, True))


@register_jitable
def _along(n, nd, axis):
    """The shape (1, ..., n, ..., 1) of nd dimensions with n at axis."""
    ax = axis + nd if axis < 0 else axis
    shape = np.ones(nd, np.intp)
    shape[ax] = n
    return shape


@overload(weights_like)
def _ov_weights_like(w, a, axis):
    _need_array(w, "weights_like", ints=True)
    dt = _dt(w)
    if not isinstance(a, types.Array) or w.ndim == a.ndim:
        return lambda w, a, axis: w.astype(dt)
    if w.ndim != 1:
        raise TypingError("srcgrad.runtime.stats.weights_like: weights must have a's shape or be 1-D")
    nd = a.ndim
    return lambda w, a, axis: w.astype(dt).reshape(to_fixed_tuple(_along(w.shape[0], nd, axis), nd))


@overload(weights_grad)
def _ov_weights_grad(g, w, a, axis):
    _need_array(w, "weights_grad", ints=True)
    dt = _dt(w)
    if not isinstance(a, types.Array) or w.ndim == a.ndim:
        return lambda g, w, a, axis: unbroadcast(g, w).astype(dt)

    def impl(g, w, a, axis):
        pre, n, post = lanes(shape_array(g), axis)
        gf = flat(g)
        out = np.zeros(n, dt)
        for i in range(pre):
            for j in range(n):
                for p in range(post):
                    out[j] += gf[(i * n + j) * post + p]
        return out
    return impl


@overload(trapezoid_weights)
def _ov_trapezoid_weights(y, axis):
    _need_array(y, "trapezoid_weights", ints=True)
    nd = y.ndim

    def impl(y, axis):
        n = lanes(shape_array(y), axis)[1]
        w = np.ones(n)
        w[0] = 0.5 if n > 1 else 0.0
        w[n - 1] = 0.5 if n > 1 else 0.0
        return w.reshape(to_fixed_tuple(_along(n, nd, axis), nd))
    return impl


def _trapezoid_grad_overload(name, in_y):
    def ov(g, y, x, axis):
        _need_array(y, name, ints=True)
        _need_array(x, name, ints=True)
        x1d = x.ndim == 1 and y.ndim > 1
        dt = _dt(y if in_y else x)
        if in_y:
            shaped = register_jitable(lambda out, y, x: out.astype(dt).reshape(y.shape))
        else:
            shaped = register_jitable(lambda out, y, x: out.astype(dt).reshape(x.shape))

        def impl(g, y, x, axis):
            pre, n, post = lanes(shape_array(y), axis)
            out = np.zeros(y.size if in_y else x.size)
            _k_trapezoid_grad(flat(g), flat(y), flat(x), x1d, pre, n, post, in_y, out)
            return shaped(out, y, x)
        return impl
    return ov


overload(trapezoid_grad_y)(_trapezoid_grad_overload("trapezoid_grad_y", True))
overload(trapezoid_grad_x)(_trapezoid_grad_overload("trapezoid_grad_x", False))


@overload(interp_slope)
def _ov_interp_slope(x, xp, fp):
    _need_array(xp, "interp_slope", ints=True)
    _need_array(fp, "interp_slope", ints=True)
    if isinstance(x, types.Array):
        dt = _dt(x, fp)

        def impl(x, xp, fp):
            xf = flat(x)
            out = np.empty(xf.shape[0])
            _k_interp(xf, xf, flat(xp), flat(fp), _SLOPE, out)
            return out.astype(dt).reshape(x.shape)
        return impl
    _need_scalar(x, "interp_slope", "x")

    def impl_scalar(x, xp, fp):
        out = np.empty(1)
        xf = flat(x)
        _k_interp(xf, xf, flat(xp), flat(fp), _SLOPE, out)
        return out[0]
    return impl_scalar


def _interp_t_overload(name, mode):
    def ov(g, x, xp):
        _need_array(xp, name, ints=True)
        dt = _dt(xp) if xp.dtype in (types.float32, types.float64) else np.float64

        def impl(g, x, xp):
            out = np.zeros(xp.shape[0])
            gf = flat(g)
            xf = flat(x)
            if gf.shape[0] != xf.shape[0]:
                raise ValueError("srcgrad: adjoint shape does not match np.interp")
            _k_interp(gf, xf, flat(xp), xf, mode, out)
            return out.astype(dt)
        return impl
    return ov


overload(interp_weights_t)(_interp_t_overload("interp_weights_t", _WEIGHTS_T))
overload(interp_slope_t)(_interp_t_overload("interp_slope_t", _SLOPE_T))


def _correlate_overload(name, in_a):
    def ov(g, a, v):
        _need_array(a, name, ints=True)
        _need_array(v, name, ints=True)
        like = a if in_a else v
        dt = _dt(like) if like.dtype in (types.float32, types.float64) else np.float64

        def impl(g, a, v):
            out = np.zeros(a.shape[0] if in_a else v.shape[0])
            _k_correlate_grad(flat(g), flat(a), flat(v), in_a, out)
            return out.astype(dt)
        return impl
    return ov


overload(correlate_grad_a)(_correlate_overload("correlate_grad_a", True))
overload(correlate_grad_v)(_correlate_overload("correlate_grad_v", False))


def _with_order(name, kernel):
    """An overload for f(n, x): the kernel of an int n and a float, mapped over x."""
    def ov(n, x):
        if not isinstance(n, types.Integer):
            raise TypingError(f"srcgrad.runtime.stats.{name}: n must be an int, got {n}")
        if isinstance(x, types.Array):
            _need_array(x, name)
            dt = _dt(x)

            def impl(n, x):
                xf = flat(x)
                out = np.empty(xf.shape[0], dt)
                for k in range(xf.shape[0]):
                    out[k] = kernel(n, float(xf[k]))
                return out.reshape(x.shape)
            return impl
        _need_scalar(x, name, "x")
        return lambda n, x: kernel(n, float(x))
    return ov


overload(bessel_i)(_with_order("bessel_i", _k_bessel_i))
overload(sinc_deriv)(_with_order("sinc_deriv", _k_sinc_deriv))


@overload(kaiser_r)
def _ov_kaiser_r(M):
    if not isinstance(M, types.Integer):
        raise TypingError(f"srcgrad.runtime.stats.kaiser_r: M must be an int, got {M}")

    def impl(M):
        if M == 1:
            return np.ones(1)
        out = np.empty(max(M, 0))
        a = (M - 1) / 2.0
        for k in range(out.shape[0]):
            t = (k - a) / a
            out[k] = math.sqrt(max(1.0 - t * t, 0.0))
        return out
    return impl
