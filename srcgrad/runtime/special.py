"""scipy.special functions in compiled code: what generated code calls for them.

Numba cannot call SciPy's functions. For each scipy.special function listed in
``SCIPY_NAMES`` this module has a plain Python version (SciPy itself, what runs
with ``jit=False``) and a ``numba.extending.overload`` used inside compiled code,
for floats and float arrays. The normalizer rewrites ``scipy.special.expit(x)``
(however it was imported) to ``special.expit(x)``; the derivative rules are in
``rules.py`` under the same names.

=====================================  ==============================================
``expit(x)``, ``logit(x)``             logistic sigmoid and its inverse
``log_expit(x)``                       ``log(expit(x))`` without overflow
``erf(x)``, ``erfc(x)``                error functions (Numba's ``math.erf``/``erfc``)
``gamma(x)``                           Numba's ``math.gamma`` (SciPy's values at poles)
``gammaln(x)``                         ``log|gamma(x)|``
``digamma(x)`` (= ``psi``)             the logarithmic derivative of gamma
``polygamma(n, x)``                    the n-th derivative of digamma (n >= 0, an int)
``xlogy(x, y)``, ``xlog1py(x, y)``     ``x * log(y)``, ``x * log1p(y)``; 0 where x == 0
``entr(x)``                            ``-x * log(x)``; 0 at 0, -inf for x < 0
``logsumexp(a, axis=None)``            ``log(sum(exp(a)))`` (SciPy's algorithm)
``softmax(x, axis=None)``              ``exp(x) / sum(exp(x))``
``log_softmax(x, axis=None)``          ``x - logsumexp(x)``
=====================================  ==============================================

Compiled versions
    Elementwise functions take a float or int scalar (a float result; float32
    for a float32 scalar) or an array of any ndim and layout (a new C array of
    the same shape: float32 for float32 input, else float64). ``xlogy`` and
    ``xlog1py`` broadcast their two arguments; the result is float32 when
    every array argument is (scalars count as Python scalars do in NumPy 2),
    float64 otherwise. Every value is computed in float64 by one small scalar
    kernel (``_k_*``) and rounded once. ``polygamma``'s ``n`` must be a scalar:
    an int, or a float holding a nonnegative integer (another value gives NaN);
    for a float32 ``x`` the result is float32 (SciPy's polygamma returns
    float64 there: it is a Python function around ``zeta``).

Reductions
    ``logsumexp``, ``softmax`` and ``log_softmax`` take ``axis`` None or an
    int (negative counts from the end), along which they work lane by lane
    (``arrays.lanes``: the array seen as (pre, n, post)). A call with more
    than the array is renamed ``logsumexp_axis`` etc. by the normalizer
    (``SCIPY_AXIS_NAMES``): the rules of the plain call then never pass an
    ``axis=None`` on (generated code may not hold None), and those of the axis
    call read it. Their adjoints are the loops ``logsumexp_grad``,
    ``softmax_grad`` and ``log_softmax_grad`` (any ndim); their tangents, in
    rules.py, are calls with rules of their own, for second derivatives.
    SciPy's other arguments (``b``, ``keepdims``, ``return_sign``) are refused
    at the call's line by the normalizer (``SCIPY_PARAMS`` lists what srcgrad
    takes, for every function), and here too (``TypingError``; a tuple axis as
    well; ``TypeError`` uncompiled), because the derivative rules do not cover
    them.

Accuracy (against SciPy, float64)
    ``expit``, ``logit``, ``log_expit``, ``xlogy``, ``xlog1py``, ``entr``,
    ``logsumexp``, ``softmax``, ``log_softmax``: SciPy's formulas, to a few
    ulps (sums may differ in the last bits: NumPy sums pairwise, the loops
    here in order). ``erf``, ``erfc`` and ``gamma``: Numba's libm-quality
    versions, within 1e-15 of SciPy except ``erfc`` beyond x = 10, where SciPy
    (Cephes) is off by up to 6e-14 and Numba is right (to 4e-16). ``gammaln``,
    ``digamma``, ``polygamma`` are written here (not copied from Cephes or
    Boost; the methods are the textbook ones those libraries also use):

    * ``gammaln``: Taylor series of ``log Gamma`` about 1 and 2, whose
      coefficients are ``zeta(k) - 1`` (so the roots at 1 and 2 keep full
      relative accuracy), upward recurrence below 0.5, downward recurrence
      from below 13, Stirling's series from 13 on, and the reflection formula
      ``log|Gamma(x)| = log(pi / |sin(pi x)|) - log Gamma(1 - x)`` with an exact
      reduction of ``sin(pi x)`` for x < -1 (one step of the recurrence
      between -1 and 0).
    * ``digamma``: Taylor series about 1 and 2 (coefficients ``zeta(k) - 1``
      again) and about its positive root (1.4616...) below 2.5, downward
      recurrence ``psi(x + 1) = psi(x) + 1/x`` (positive terms) below 10, the
      asymptotic series from 10 on; reflection ``psi(x) = psi(1 - x) - pi
      cot(pi x)`` for x < 0, except about the negative root nearest 0
      (-0.5040...), which has its own Taylor series (SciPy also expands about
      both roots, so the values there keep their relative accuracy).
    * ``polygamma(n, x)`` for n >= 1: ``(-1)**(n+1) n! zeta(n + 1, x)``, the
      Hurwitz zeta by direct summation to a shift ``w = x + N`` and the
      Euler-Maclaurin tail there; for x < 0 the reflection formula
      ``psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi^(n+1) P_n(cot(pi x))`` (P_n the
      polynomial of the n-th derivative of cot) for even n <= 60, where SciPy
      sums the series directly and loses digits to cancellation (all of them
      near x = -k - 1/2 at large k).

    For x > 0 all three are within a few ulps of the true values (mpmath),
    and match SciPy to ~1e-15 relative except where SciPy is less accurate:
    gammaln near its roots 1 and 2 (SciPy: 1e-10 relative at 1 + 1e-7). For
    x < 0 they match SciPy to ~1e-15 of max(1, |value|): near the roots on
    the negative axis both lose relative accuracy the same way (except at the
    two roots above), and SciPy's polygamma for even n is the one that is off
    near the half-integers. The constants (zeta(k) - 1, the Taylor
    coefficients at the roots, Bernoulli numbers) were computed with mpmath
    at 60 digits and rounded to the nearest double.

Conventions at special points follow SciPy: gamma, gammaln, digamma and
polygamma at the poles (0 and the negative integers), ``logit(0) = -inf``,
``xlogy(0, y) = 0`` unless y is NaN, ``logsumexp`` of an empty array -inf.

Compile time: the style of ``runtime_np.py`` (see its docstring). Each
function's math is one ``register_jitable`` scalar kernel compiled once per
process for float64 (1-3 s for gammaln, digamma, polygamma, which share their
parts; under 0.2 s for the others); ``_unary`` and ``_binary`` make the
per-signature overloads, small loops over flat C data (broadcasting by
``runtime_np``'s loop plans), and the reductions are loops over lanes, with
no array expressions.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special as _sc
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable
from numba.np.unsafe.ndarray import to_fixed_tuple

from .arrays import flat, is_none_type, lanes, nelem, plan2, shape_array

# scipy.special name -> the canonical name generated code calls
SCIPY_NAMES: dict[str, str] = {
    "expit": "special.expit",
    "logit": "special.logit",
    "log_expit": "special.log_expit",
    "erf": "special.erf",
    "erfc": "special.erfc",
    "gamma": "special.gamma",
    "gammaln": "special.gammaln",
    "psi": "special.digamma",        # scipy.special.digamma.__name__ == "psi"
    "digamma": "special.digamma",
    "polygamma": "special.polygamma",
    "xlogy": "special.xlogy",
    "xlog1py": "special.xlog1py",
    "entr": "special.entr",
    "logsumexp": "special.logsumexp",
    "softmax": "special.softmax",
    "log_softmax": "special.log_softmax",
}

__all__ = [
    "SCIPY_NAMES", "SCIPY_AXIS_NAMES", "SCIPY_PARAMS", "call_problem",
    "expit", "logit", "log_expit", "erf", "erfc", "gamma", "gammaln", "digamma", "psi",
    "polygamma", "xlogy", "xlog1py", "entr", "logsumexp", "softmax", "log_softmax",
    "logsumexp_axis", "softmax_axis", "log_softmax_axis",
    "logsumexp_grad", "softmax_grad", "log_softmax_grad",
]

_INF = math.inf
_NAN = math.nan


# =====================================================================
# Plain Python versions (jit=False): SciPy itself
# =====================================================================

def expit(x):
    """scipy.special.expit(x) = 1 / (1 + exp(-x))"""
    return _sc.expit(x)


def logit(x):
    """scipy.special.logit(x) = log(x / (1 - x))"""
    return _sc.logit(x)


def log_expit(x):
    """scipy.special.log_expit(x) = log(expit(x))"""
    return _sc.log_expit(x)


def erf(x):
    """scipy.special.erf(x)"""
    return _sc.erf(x)


def erfc(x):
    """scipy.special.erfc(x) = 1 - erf(x)"""
    return _sc.erfc(x)


def gamma(x):
    """scipy.special.gamma(x)"""
    return _sc.gamma(x)


def gammaln(x):
    """scipy.special.gammaln(x) = log|gamma(x)|"""
    return _sc.gammaln(x)


def digamma(x):
    """scipy.special.digamma(x) (also called psi)"""
    return _sc.digamma(x)


psi = digamma


def polygamma(n, x):
    """scipy.special.polygamma(n, x): the n-th derivative of digamma"""
    return _sc.polygamma(n, x)


def xlogy(x, y):
    """scipy.special.xlogy(x, y) = x * log(y), 0 where x == 0 (unless y is NaN)"""
    return _sc.xlogy(x, y)


def xlog1py(x, y):
    """scipy.special.xlog1py(x, y) = x * log1p(y), 0 where x == 0 (unless y is NaN)"""
    return _sc.xlog1py(x, y)


def entr(x):
    """scipy.special.entr(x) = -x * log(x) (0 at 0, -inf for x < 0)"""
    return _sc.entr(x)


def _plain_axis(name, axis, extra):
    """Refuse what the compiled versions and the derivative rules do not cover."""
    if axis is not None and not isinstance(axis, (int, np.integer)):
        raise TypeError(f"scipy.special.{name}: srcgrad supports axis None or an int, "
                         f"got {axis!r}")
    for arg, (value, default) in extra.items():
        if value is not default and value != default:
            raise TypeError(f"scipy.special.{name}: srcgrad does not support {arg}= "
                             "(only the array and axis)")


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """scipy.special.logsumexp(a, axis) = log(sum(exp(a), axis))"""
    _plain_axis("logsumexp", axis, {"b": (b, None), "keepdims": (keepdims, False),
                                    "return_sign": (return_sign, False)})
    return _sc.logsumexp(a, axis=axis)


def softmax(x, axis=None):
    """scipy.special.softmax(x, axis) = exp(x) / sum(exp(x), axis)"""
    _plain_axis("softmax", axis, {})
    return _sc.softmax(x, axis=axis)


def log_softmax(x, axis=None):
    """scipy.special.log_softmax(x, axis) = x - logsumexp(x, axis)"""
    _plain_axis("log_softmax", axis, {})
    return _sc.log_softmax(x, axis=axis)


def logsumexp_axis(a, axis=None, b=None, keepdims=False, return_sign=False):
    """logsumexp called with an axis (or more arguments): the same function under the
    name whose rules read the axis"""
    return logsumexp(a, axis, b, keepdims, return_sign)


def softmax_axis(x, axis=None):
    """softmax called with an axis"""
    return softmax(x, axis)


def log_softmax_axis(x, axis=None):
    """log_softmax called with an axis"""
    return log_softmax(x, axis)


# the canonical name of a call of these that passes more than the array (normalize.py)
SCIPY_AXIS_NAMES: dict[str, str] = {
    "special.logsumexp": "special.logsumexp_axis",
    "special.softmax": "special.softmax_axis",
    "special.log_softmax": "special.log_softmax_axis",
}

# the arguments srcgrad supports, by canonical name, in order (the rules do not cover
# others); by keyword too for SciPy's Python functions, by position only for its ufuncs
SCIPY_PARAMS: dict[str, tuple[str, ...]] = {
    **{name: ("x",) for name in SCIPY_NAMES.values()},
    "special.polygamma": ("n", "x"),
    "special.xlogy": ("x", "y"),
    "special.xlog1py": ("x", "y"),
    "special.logsumexp": ("a", "axis"),
    "special.softmax": ("x", "axis"),
    "special.log_softmax": ("x", "axis"),
}
_KEYWORDS_TAKEN = {canonical for name, canonical in SCIPY_NAMES.items()
                   if not isinstance(getattr(_sc, name), np.ufunc)}


def call_problem(canonical: str, nargs: int, keywords: list) -> str | None:
    """What is wrong with a call of scipy.special's function `canonical` with `nargs`
    positional arguments and these keyword names (normalize.py reports it at the
    call's line), or None."""
    params = SCIPY_PARAMS[canonical]
    name = f"scipy.special.{canonical.partition('.')[2]}"
    if name == "scipy.special.digamma":
        name = "scipy.special.digamma (psi)"
    if keywords and canonical not in _KEYWORDS_TAKEN:
        return f"{name} takes no keyword arguments (it is a NumPy ufunc)"
    if nargs > len(params) or any(k not in params for k in keywords):
        return f"srcgrad supports {name}({', '.join(params)}) only"
    return None


# =====================================================================
# Constants (mpmath, 60 digits, rounded to double)
# =====================================================================

_EULER = 0.5772156649015329          # Euler's gamma
_HALF_LOG_2PI = 0.9189385332046728   # log(2 pi) / 2
_LOG_PI = 1.1447298858494002

# zeta(k) - 1 for k = 2, 3, ..., 31
_ZETAC = np.array([
    0.6449340668482264, 0.2020569031595943, 0.08232323371113819, 0.03692775514336993,
    0.01734306198444914, 0.008349277381922827, 0.00407735619794434, 0.0020083928260822143,
    0.0009945751278180853, 0.0004941886041194645, 0.0002460865533080483,
    0.00012271334757848915, 6.124813505870483e-05, 3.058823630702049e-05,
    1.528225940865187e-05, 7.637197637899763e-06, 3.81729326499984e-06,
    1.908212716553939e-06, 9.539620338727962e-07, 4.769329867878064e-07,
    2.38450502727733e-07, 1.1921992596531106e-07, 5.960818905125948e-08,
    2.980350351465228e-08, 1.4901554828365043e-08, 7.45071178983543e-09,
    3.725334024788457e-09, 1.862659723513049e-09, 9.313274324196682e-10,
    4.656629065033784e-10])

# Stirling's series for log Gamma: B_2k / (2k (2k - 1)), k = 1..8
_STIRLING = np.array([
    0.08333333333333333, -0.002777777777777778, 0.0007936507936507937,
    -0.0005952380952380953, 0.0008417508417508417, -0.0019175269175269176,
    0.00641025641025641, -0.029550653594771242])

# digamma's asymptotic series: B_2k / (2k), k = 1..9
_PSI_ASYMPTOTIC = np.array([
    0.08333333333333333, -0.008333333333333333, 0.003968253968253968,
    -0.004166666666666667, 0.007575757575757576, -0.021092796092796094,
    0.08333333333333333, -0.4432598039215686, 3.0539543302701198])

# B_2j / (2j)!, j = 1..13 (Euler-Maclaurin)
_EM = np.array([
    0.08333333333333333, -0.001388888888888889, 3.306878306878307e-05,
    -8.267195767195768e-07, 2.08767569878681e-08, -5.284190138687493e-10,
    1.3382536530684679e-11, -3.3896802963225827e-13, 8.586062056277845e-15,
    -2.174868698558062e-16, 5.5090028283602295e-18, -1.3954464685812522e-19,
    3.534707039629467e-21])

# digamma's positive root (the double nearest it) and the Taylor coefficients
# psi^(n)(r) / n! there, n = 0..31 (n = 0: psi at the double, not exactly 0)
_POS_ROOT = 1.4616321449683622
_POS_TAYLOR = np.array([
    -9.241265521729427e-17, 0.9676722454476212, -0.4427631689835922, 0.2584997609556511,
    -0.16394270544240658, 0.10782405069126241, -0.07219956125645474, 0.04880428816414313,
    -0.033161126474847376, 0.022597648232218118, -0.01542476590494897, 0.010538791616612184,
    -0.007204534386356875, 0.004926781395729858, -0.0033698016554393312, 0.00230512632673493,
    -0.001576936771430199, 0.0010788252019162978, -0.000738070938996006,
    0.0005049532658346027, -0.0003454680251063082, 0.00023635601564027086,
    -0.00016170622091974827, 0.00011063372768747428, -7.569179582195078e-05,
    5.17857579522209e-05, -3.543007094765967e-05, 2.4240066118601362e-05,
    -1.6584242271854165e-05, 1.1346384584663872e-05, -7.76281766846211e-06,
    5.3110609208898746e-06])
_POS_WINDOW = 0.25      # |x - r| < 0.25: 0.25 / r < 0.18, so 31 terms are ample

# the root nearest 0 on the negative axis, the same way
_NEG_ROOT = -0.5040830082644554
_NEG_TAYLOR = np.array([
    7.289763902976895e-17, 8.939798558792134, -0.8093454625306499, 32.258572064915505,
    -2.7610116487908227, 128.27342343090902, -14.706721735530332, 513.2704629562861,
    -75.37700066344615, 2055.5357119463315, -368.5783503832184, 8234.667099203069,
    -1743.3646088673593, 32997.785655255044, -8051.818155363481, 132262.95480834588,
    -36529.945969485576, 530280.3912420176, -163451.7934270022, 2126602.372596875,
    -723318.8861804291, 8530604.878543982, -3172131.31557447, 34228316.69580112,
    -13807481.99726386, 137373435.87411496, -59721085.41129418, 551481251.8585448,
    -256915093.7987531, 2214464568.0139103, -1100067148.9416316, 8894384049.698204])
_NEG_WINDOW = 0.1       # the poles at 0 and -1 are 0.496 away: 0.1 / 0.496 ~ 0.2


# =====================================================================
# Scalar kernels (float64 in, float64 out)
# =====================================================================

@register_jitable
def _mod2(x):
    """x mod 2 for x >= 0, exactly: x - 2 floor(x / 2) is a Sterbenz subtraction
    for x >= 2 (Numba has no math.fmod)."""
    return x - 2.0 * math.floor(0.5 * x)


@register_jitable
def _sinpi(x):
    """sin(pi x), the argument reduced exactly (see _mod2)."""
    s = 1.0
    if x < 0.0:
        x = -x
        s = -1.0
    r = _mod2(x)
    if r >= 1.0:
        r -= 1.0
        s = -s
    if r <= 0.25:
        v = math.sin(math.pi * r)
    elif r <= 0.75:
        v = math.cos(math.pi * (0.5 - r))
    else:
        v = math.sin(math.pi * (1.0 - r))
    return s * v


@register_jitable
def _cospi(x):
    """cos(pi x), the argument reduced exactly."""
    r = _mod2(abs(x))
    if r > 1.0:
        r = 2.0 - r
    if r <= 0.25:
        return math.cos(math.pi * r)
    if r <= 0.75:
        return math.sin(math.pi * (0.5 - r))
    return -math.cos(math.pi * (1.0 - r))


@register_jitable
def _horner(c, z):
    """sum_k c[k] z**k"""
    s = 0.0
    for k in range(c.shape[0] - 1, -1, -1):
        s = s * z + c[k]
    return s


@register_jitable
def _k_expit(x):
    return 1.0 / (1.0 + math.exp(-x))


@register_jitable
def _k_logit(x):
    # log(x / (1 - x)) loses accuracy near x = 0.5, where log1p of the
    # difference does not
    if x < 0.3 or x > 0.65:
        return math.log(x / (1.0 - x)) if x != 1.0 else _INF
    return math.log1p(2.0 * (x - 0.5) / (1.0 - x))


@register_jitable
def _k_log_expit(x):
    if x < 0.0:
        return x - math.log1p(math.exp(x))
    return -math.log1p(math.exp(-x))


@register_jitable
def _k_erf(x):
    return math.erf(x)


@register_jitable
def _k_erfc(x):
    return math.erfc(x)


@register_jitable
def _k_gamma(x):
    # Numba's gamma gives SciPy's values at the poles: inf at +0, -inf at -0,
    # NaN at the negative integers and -inf
    return math.gamma(x)


# sum_{k>=2} (-1)**k (zeta(k) - 1) / k z**k = z**2 * sum_i _LGAMMA_SERIES[i] z**i, and
# sum_{k>=2} (-1)**k (zeta(k) - 1) z**(k-1) = z * sum_i _PSI_SERIES[i] z**i
_PSI_SERIES = _ZETAC * np.array([(-1.0) ** k for k in range(2, 32)])
_LGAMMA_SERIES = _PSI_SERIES / np.arange(2, 32)


@register_jitable
def _lgamma_series(z):
    """sum_{k>=2} (-1)**k (zeta(k) - 1) / k z**k, for |z| <= 0.5."""
    return _horner(_LGAMMA_SERIES, z) * z * z


@register_jitable
def _lgamma_pos(x):
    """log Gamma(x) for x > 0 (finite)."""
    if x < 0.5:
        # log Gamma(x) = log Gamma(1 + x) - log x
        return -_EULER * x + (x - math.log1p(x)) + _lgamma_series(x) - math.log(x)
    if x < 1.5:
        z = x - 1.0             # exact
        # log Gamma(1 + z) = -gamma z + sum_{k>=2} (-1)^k zeta(k)/k z^k, with
        # sum_{k>=2} (-1)^k z^k / k = z - log1p(z)
        return -_EULER * z + (z - math.log1p(z)) + _lgamma_series(z)
    if x <= 2.5:
        z = x - 2.0             # exact
        return (1.0 - _EULER) * z + _lgamma_series(z)
    if x < 13.0:
        p = 1.0
        while x > 2.5:
            x -= 1.0            # exact
            p *= x
        return (1.0 - _EULER) * (x - 2.0) + _lgamma_series(x - 2.0) + math.log(p)
    lx = math.log(x)
    q = x * (lx - 1.0) - 0.5 * lx + _HALF_LOG_2PI
    if x > 1e17:
        return q
    r = 1.0 / (x * x)
    return q + _horner(_STIRLING, r) / x


@register_jitable
def _k_gammaln(x):
    if x != x:
        return x
    if x == _INF:
        return _INF
    if x == -_INF:
        return -_INF            # SciPy's value
    if x <= 0.0 and x == math.floor(x):
        return _INF             # the poles
    if x > 0.0:
        return _lgamma_pos(x)
    if x > -1.0:
        return _lgamma_pos(1.0 + x) - math.log(-x)
    # reflection: |Gamma(x)| = pi / (|sin(pi x)| Gamma(1 - x))
    return _LOG_PI - math.log(abs(_sinpi(x))) - _lgamma_pos(1.0 - x)


@register_jitable
def _digamma_series(z):
    """sum_{k>=2} (-1)**k (zeta(k) - 1) z**(k-1), for |z| <= 0.5: with it
    psi(2 + z) = 1 - gamma + series(z) and psi(1 + z) = psi(2 + z) - 1 / (1 + z)."""
    return _horner(_PSI_SERIES, z) * z


@register_jitable
def _digamma_pos(x):
    """psi(x) for x > 0 (finite)."""
    if x >= 10.0:
        r = 1.0 / (x * x)
        return math.log(x) - 0.5 / x - r * _horner(_PSI_ASYMPTOTIC, r)
    s = 0.0
    while x > 2.5:
        x -= 1.0                # exact for x >= 2
        s += 1.0 / x            # psi(x + 1) = psi(x) + 1 / x: positive terms
    d = x - _POS_ROOT
    if abs(d) < _POS_WINDOW:
        return _horner(_POS_TAYLOR, d) + s
    if x > 1.5:
        return (1.0 - _EULER) + _digamma_series(x - 2.0) + s
    if x >= 0.5:
        # z = x - 1 exact, so 1 + z is x itself
        return -_EULER + (x - 1.0) / x + _digamma_series(x - 1.0) + s
    return -_EULER + x / (1.0 + x) + _digamma_series(x) - 1.0 / x + s


@register_jitable
def _k_digamma(x):
    if x != x or x == _INF:
        return x
    if x == 0.0:
        return -math.copysign(_INF, x)      # -1/x: -inf at +0, inf at -0 (SciPy)
    if x > 0.0:
        return _digamma_pos(x)
    if x == math.floor(x):
        return _NAN                         # the poles, and -inf
    d = x - _NEG_ROOT
    if abs(d) < _NEG_WINDOW:
        return _horner(_NEG_TAYLOR, d)
    # reflection: psi(x) = psi(1 - x) - pi cot(pi x)
    return _digamma_pos(1.0 - x) - math.pi * _cospi(x) / _sinpi(x)


@register_jitable
def _hurwitz_zeta(s, x):
    """zeta(s, x) = sum_{k>=0} (x + k)**-s for an integer s >= 2 and x not a
    pole: terms up to w = x + N >= s + 10 (fewer once the rest is below the last
    bit: it is at most the term times 1 + w / (s - 1)), then the Euler-Maclaurin
    tail at w."""
    target = max(12.0, s + 10.0)
    total = 0.0
    w = x
    k = 0.0
    while w < target:
        t = math.pow(w, -s)
        total += t
        if w > 0.0 and abs(t) * (1.0 + w / (s - 1.0)) <= 1e-17 * abs(total):
            return total
        k += 1.0
        w = x + k
    wp = math.pow(w, -s)
    tail = math.pow(w, 1.0 - s) / (s - 1.0) + 0.5 * wp
    fact = s * wp / w                        # s * w**(-s-1)
    winv2 = 1.0 / (w * w)
    for j in range(_EM.shape[0]):
        t = _EM[j] * fact
        tail += t
        if abs(t) <= 1e-17 * abs(tail + total):
            break
        fact *= (s + 2 * j + 1.0) * (s + 2 * j + 2.0) * winv2
    return total + tail


def _cot_derivative_table(orders):
    """Row n: the coefficients of P_n (lowest power first), where d^n/dx^n cot(pi x) =
    pi**n P_n(cot(pi x)): P_0(c) = c, P_{n+1}(c) = -(1 + c^2) P_n'(c). The coefficients
    of P_n all have one sign and one parity, so evaluating it cancels nothing."""
    table = np.zeros((orders + 1, orders + 2))
    table[0, 1] = 1.0
    for n in range(orders):
        a = table[n]
        b = table[n + 1]
        for j in range(n + 3):
            b[j] = -((j + 1) * a[j + 1] if j + 1 <= n + 1 else 0.0) \
                - ((j - 1) * a[j - 1] if j >= 1 else 0.0)
    return table


_REFLECT_ORDERS = 60     # polygamma's reflection for even n up to this
_COT_DERIVATIVES = _cot_derivative_table(_REFLECT_ORDERS)


@register_jitable
def _cot_derivative(n, c):
    """P_n(c) (see _cot_derivative_table)."""
    s = 0.0
    for j in range(n + 1, -1, -1):
        s = s * c + _COT_DERIVATIVES[n, j]
    return s


@register_jitable
def _k_polygamma(n, x):
    """psi^(n)(x); n a float holding the order."""
    if not (n >= 0.0 and n == math.floor(n)):
        return _NAN                          # also NaN and inf
    if n == 0.0:
        return _k_digamma(x)
    if x != x:
        return x
    if n > 200.0:
        n = 200.0 + n % 2.0                  # n! overflows: keep the parity
    order = int(n)
    fact = 1.0
    for k in range(2, order + 1):
        fact *= k
    sign = 1.0 if order % 2 == 1 else -1.0
    if x == _INF:
        return sign * fact * 0.0
    if x <= 0.0 and x == math.floor(x):
        return sign * fact * _INF            # zeta(n + 1, pole) = inf (SciPy)
    if x < 0.0 and order % 2 == 0 and order <= _REFLECT_ORDERS:
        # reflection: psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi^(n+1) P_n(cot(pi x)).
        # For even n the series has terms of both signs at x < 0, and summing it
        # directly (what SciPy does) cancels them: near x = -k - 1/2 all digits
        # can go. (For odd n its terms are all positive: no need.) Where cot
        # overflows, x is next to a pole, whose term dominates the series.
        c = _cospi(x) / _sinpi(x)
        if c - c == 0.0:
            right = sign * fact * _hurwitz_zeta(n + 1.0, 1.0 - x)
            return right - math.pow(math.pi, n + 1.0) * _cot_derivative(order, c)
    return sign * fact * _hurwitz_zeta(n + 1.0, x)


@register_jitable
def _k_xlogy(x, y):
    if x == 0.0 and y == y:
        return 0.0
    return x * math.log(y) if y >= 0.0 else x * _NAN


@register_jitable
def _k_xlog1py(x, y):
    if x == 0.0 and y == y:
        return 0.0
    return x * math.log1p(y) if y >= -1.0 else x * _NAN


@register_jitable
def _k_entr(x):
    if x > 0.0:
        return -x * math.log(x)
    if x == 0.0:
        return 0.0
    if x < 0.0:
        return -_INF
    return x


# =====================================================================
# The elementwise-loop mechanism: one overload per function and signature,
# calling the float64 kernel in a loop over flat C data
# =====================================================================

def _real(t):
    return isinstance(t, (types.Float, types.Integer, types.Boolean))


def _check(name, *ts):
    for t in ts:
        if not (_real(t) or isinstance(t, types.Array) and _real(t.dtype)):
            raise TypingError(f"srcgrad.runtime.special.{name}: expected a real scalar or array, "
                              f"got {t}")


def _is32(t):
    return getattr(t, "dtype", t) == types.float32


def _unary(func, kernel):
    name = func.__name__

    @overload(func)
    def _ov(x):
        _check(name, x)
        if isinstance(x, types.Array):
            dt = np.float32 if _is32(x) else np.float64

            def impl(x):
                xf = flat(x)
                out = np.empty(xf.shape[0], dt)
                for k in range(xf.shape[0]):
                    out[k] = kernel(float(xf[k]))
                return out.reshape(x.shape)
            return impl
        if _is32(x):
            return lambda x: np.float32(kernel(float(x)))
        return lambda x: kernel(float(x))
    return _ov


def _binary(func, kernel):
    name = func.__name__

    @overload(func)
    def _ov(x, y):
        _check(name, x, y)
        arrays = [t for t in (x, y) if isinstance(t, types.Array)]
        single = all(_is32(t) for t in arrays) if arrays else _is32(x) and _is32(y)
        if not arrays:
            if single:
                return lambda x, y: np.float32(kernel(float(x), float(y)))
            return lambda x, y: kernel(float(x), float(y))
        dt = np.float32 if single else np.float64
        nd = max(t.ndim for t in arrays)

        def impl(x, y):
            sh, offs, inner, steps = plan2(shape_array(x), shape_array(y))
            xf = flat(x)
            yf = flat(y)
            out = np.empty(nelem(sh), dt)
            sx = steps[0]
            sy = steps[1]
            for r in range(offs.shape[0]):
                ox = offs[r, 0]
                oy = offs[r, 1]
                k = r * inner
                for j in range(inner):
                    out[k + j] = kernel(float(xf[ox + j * sx]), float(yf[oy + j * sy]))
            return out.reshape(to_fixed_tuple(sh, nd))
        return impl
    return _ov


_unary(expit, _k_expit)
_unary(logit, _k_logit)
_unary(log_expit, _k_log_expit)
_unary(erf, _k_erf)
_unary(erfc, _k_erfc)
_unary(gamma, _k_gamma)
_unary(gammaln, _k_gammaln)
_unary(digamma, _k_digamma)
_unary(entr, _k_entr)
_binary(xlogy, _k_xlogy)
_binary(xlog1py, _k_xlog1py)


@overload(polygamma)
def _ov_polygamma(n, x):
    if not isinstance(n, (types.Integer, types.Float)):
        raise TypingError("srcgrad.runtime.special.polygamma: n must be a scalar (an int), "
                          f"got {n}")
    _check("polygamma", x)
    if isinstance(x, types.Array):
        dt = np.float32 if _is32(x) else np.float64

        def impl(n, x):
            order = float(n)
            xf = flat(x)
            out = np.empty(xf.shape[0], dt)
            for k in range(xf.shape[0]):
                out[k] = _k_polygamma(order, float(xf[k]))
            return out.reshape(x.shape)
        return impl
    if _is32(x):
        return lambda n, x: np.float32(_k_polygamma(float(n), float(x)))
    return lambda n, x: _k_polygamma(float(n), float(x))


# =====================================================================
# logsumexp, softmax, log_softmax: lanes along an axis, as (pre, n, post)
# =====================================================================

@register_jitable
def _k_logsumexp(xf, pre, n, post, out):
    """SciPy's algorithm along each lane: with M the maximum and m how many
    entries equal it, M + log(m) + log1p(sum of exp(x - M) over the others / m);
    where that is not finite, log(sum(exp(x)))."""
    for i in range(pre):
        for p in range(post):
            base = i * n * post + p
            big = -_INF
            nan = False
            for j in range(n):
                v = xf[base + j * post]
                if v != v:
                    nan = True
                elif v > big:
                    big = v
            if nan:
                out[i * post + p] = _NAN
                continue
            m = 0.0
            s = 0.0
            for j in range(n):
                v = xf[base + j * post]
                if v == big:
                    m += 1.0
                else:
                    s += math.exp(v - big)
            r = _NAN
            if m > 0.0:
                if s != 0.0:
                    s /= m
                r = math.log1p(s) + math.log(m) + big
            if not (r - r == 0.0):
                direct = 0.0
                for j in range(n):
                    direct += math.exp(xf[base + j * post])
                r = math.log(direct) if direct > 0.0 else -_INF
            out[i * post + p] = r


@register_jitable
def _k_softmax(xf, pre, n, post, out, log):
    """softmax (log False): exp(x - M) / sum(exp(x - M)), M the lane's maximum
    (NaN if any entry is); log_softmax (log True): x - M' - log(sum(exp(x - M'))),
    M' = M where finite, else 0 (SciPy's formulas)."""
    for i in range(pre):
        for p in range(post):
            base = i * n * post + p
            big = -_INF
            for j in range(n):
                v = xf[base + j * post]
                if v != v or v > big:
                    big = v
                    if v != v:
                        break
            if log and not (big - big == 0.0):
                big = 0.0
            s = 0.0
            for j in range(n):
                s += math.exp(xf[base + j * post] - big)
            if log:
                ls = math.log(s)
                for j in range(n):
                    out[base + j * post] = (xf[base + j * post] - big) - ls
            else:
                for j in range(n):
                    out[base + j * post] = math.exp(xf[base + j * post] - big) / s


@register_jitable
def _drop_axis(shape, axis):
    """The shape without dimension `axis` (negative counts from the end)."""
    nd = shape.shape[0]
    if axis < 0:
        axis += nd
    out = np.empty(nd - 1, np.intp)
    e = 0
    for d in range(nd):
        if d != axis:
            out[e] = shape[d]
            e += 1
    return out


def _reduction_types(name, x, axis, extra=None):
    """(dtype, axis is None) after checking the arguments srcgrad supports."""
    _check(name, x)
    for arg, t in (extra or {}).items():
        if not (is_none_type(t) or t is False
                or arg != "b" and isinstance(t, types.Boolean)):
            raise TypingError(f"srcgrad.runtime.special.{name}: srcgrad supports only the array and "
                              f"axis arguments of scipy.special.{name}, not {arg}=")
    if not is_none_type(axis) and not isinstance(axis, types.Integer):
        raise TypingError(f"srcgrad.runtime.special.{name}: axis must be None or an int (not a "
                          f"tuple of axes), got {axis}")
    if not isinstance(x, types.Array) and not is_none_type(axis):
        raise TypingError(f"srcgrad.runtime.special.{name}: axis must be None for a scalar")
    return (np.float32 if _is32(x) else np.float64), is_none_type(axis)


@register_jitable
def _defaults_only(keepdims, return_sign):
    if keepdims or return_sign:
        raise ValueError("srcgrad.runtime.special.logsumexp: srcgrad supports only the array and "
                         "axis arguments of scipy.special.logsumexp")


@overload(logsumexp)
@overload(logsumexp_axis)
def _ov_logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    dt, whole = _reduction_types("logsumexp", a, axis,
                                 {"b": b, "keepdims": keepdims, "return_sign": return_sign})
    if not isinstance(a, types.Array):
        def impl_scalar(a, axis=None, b=None, keepdims=False, return_sign=False):
            _defaults_only(keepdims, return_sign)
            return a * 1.0
        return impl_scalar
    nd1 = a.ndim - 1
    if whole or nd1 == 0:
        def impl_all(a, axis=None, b=None, keepdims=False, return_sign=False):
            _defaults_only(keepdims, return_sign)
            pre, n, post = lanes(shape_array(a), axis)
            out = np.empty(pre * post, dt)
            _k_logsumexp(flat(a), pre, n, post, out)
            return out[0]
        return impl_all

    def impl(a, axis=None, b=None, keepdims=False, return_sign=False):
        _defaults_only(keepdims, return_sign)
        shape = shape_array(a)
        pre, n, post = lanes(shape, axis)
        out = np.empty(pre * post, dt)
        _k_logsumexp(flat(a), pre, n, post, out)
        return out.reshape(to_fixed_tuple(_drop_axis(shape, axis), nd1))
    return impl


def _softmax_overload(name, log):
    def ov(x, axis=None):
        dt, _ = _reduction_types(name, x, axis)
        if not isinstance(x, types.Array):
            value = 0.0 if log else 1.0     # NaN for an infinite or NaN x, as SciPy
            return lambda x, axis=None: value if x - x == 0 else _NAN

        def impl(x, axis=None):
            pre, n, post = lanes(shape_array(x), axis)
            out = np.empty(pre * n * post, dt)
            _k_softmax(flat(x), pre, n, post, out, log)
            return out.reshape(x.shape)
        return impl
    return ov


for _f, _log in ((softmax, False), (softmax_axis, False), (log_softmax, True),
                 (log_softmax_axis, True)):
    overload(_f)(_softmax_overload(_f.__name__, _log))


# =====================================================================
# Adjoints of the reductions (what the rules in rules.py call): g and ans
# as the reduction's result and argument shapes; a new C array in the
# argument's dtype. Not differentiable again: second derivatives use the
# tangent rules, which are calls with rules of their own.
# =====================================================================

def logsumexp_grad(g, a, ans, axis=None):
    """Adjoint of ``logsumexp(a, axis)``: g * exp(a - ans), g and ans broadcast
    along `axis` (that is, g * softmax(a, axis))."""
    a = np.asarray(a)
    if axis is not None:
        g = np.expand_dims(g, axis)
        ans = np.expand_dims(ans, axis)
    with np.errstate(invalid="ignore"):
        return (g * np.exp(a - ans)).astype(_float_dtype(a))


def softmax_grad(g, ans, axis=None):
    """Adjoint of ``ans = softmax(x, axis)``: ans * (g - sum(g * ans, axis))."""
    return (ans * (g - np.sum(g * ans, axis=axis, keepdims=True))).astype(ans.dtype)


def log_softmax_grad(g, ans, axis=None):
    """Adjoint of ``ans = log_softmax(x, axis)``: g - exp(ans) * sum(g, axis)."""
    return (g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True)).astype(ans.dtype)


def _float_dtype(a):
    return np.float32 if a.dtype == np.float32 else np.float64


@register_jitable
def _k_logsumexp_grad(gf, xf, af, pre, n, post, out):
    for i in range(pre):
        for p in range(post):
            gv = gf[i * post + p]
            av = af[i * post + p]
            base = i * n * post + p
            for j in range(n):
                out[base + j * post] = gv * math.exp(xf[base + j * post] - av)


@register_jitable
def _k_softmax_grad(gf, af, pre, n, post, out, log):
    for i in range(pre):
        for p in range(post):
            base = i * n * post + p
            s = 0.0
            for j in range(n):
                k = base + j * post
                s += gf[k] if log else gf[k] * af[k]
            for j in range(n):
                k = base + j * post
                if log:
                    out[k] = gf[k] - math.exp(af[k]) * s
                else:
                    out[k] = af[k] * (gf[k] - s)


@overload(logsumexp_grad)
def _ov_logsumexp_grad(g, a, ans, axis=None):
    dt, _ = _reduction_types("logsumexp_grad", a, axis)
    if not isinstance(a, types.Array):
        return lambda g, a, ans, axis=None: g * 1.0

    def impl(g, a, ans, axis=None):
        pre, n, post = lanes(shape_array(a), axis)
        gf = flat(g)
        af = flat(ans)
        if gf.shape[0] != pre * post or af.shape[0] != pre * post:
            raise ValueError("srcgrad: adjoint shape does not match the reduction")
        out = np.empty(pre * n * post, dt)
        _k_logsumexp_grad(gf, flat(a), af, pre, n, post, out)
        return out.reshape(a.shape)
    return impl


def _softmax_grad_overload(name, log):
    def ov(g, ans, axis=None):
        dt, _ = _reduction_types(name, ans, axis)
        if not isinstance(ans, types.Array):
            return lambda g, ans, axis=None: 0.0

        def impl(g, ans, axis=None):
            pre, n, post = lanes(shape_array(ans), axis)
            gf = flat(g)
            if gf.shape[0] != pre * n * post:
                raise ValueError("srcgrad: adjoint shape does not match the result")
            out = np.empty(pre * n * post, dt)
            _k_softmax_grad(gf, flat(ans), pre, n, post, out, log)
            return out.reshape(ans.shape)
        return impl
    return ov


overload(softmax_grad)(_softmax_grad_overload("softmax_grad", False))
overload(log_softmax_grad)(_softmax_grad_overload("log_softmax_grad", True))
