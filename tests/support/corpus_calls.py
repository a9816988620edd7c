"""Corpus of multi-function programs: a differentiated function that calls other user functions.

srcgrad inlines each user-defined callee into the caller, so everything here must come out
exactly as if the user had pasted the callee's body in, with Python's semantics: callee
locals and parameters never clobber the caller's variables (even with the same names),
keyword arguments and defaults bind as in Python, a callee reads *its own* module's
globals, ``out[i] = ...`` in a callee writes into the caller's array, ``u, v = helper(x)``
unpacks a returned tuple, the untaken side of ``a if c else helper(b)`` and of ``and`` /
``or`` is never evaluated.

Helpers from another module live in ``corpus_calls_lib`` (``lib``); ``SCALE`` and
``OFFSETS`` exist in both modules with different values. ``@numba.njit`` helpers are read
through their ``.py_func``. The programs near the end use ``srcgrad.custom_vjp`` and
``srcgrad.non_differentiable`` (user derivative rules); while those do not exist, stand-ins
keep this module importable and the programs runnable in plain Python
(``HAVE_CUSTOM_VJP`` / ``HAVE_NON_DIFFERENTIABLE`` say which).

``CASES`` lists each program with 2-3 deterministic points, ``wrt``, and ``features``
(see ``FEATURES``; test_corpus_calls checks the source-visible ones against the source).
Points are away from branch boundaries, changes of loop trip count, max/min/abs ties and
domain edges, so central finite differences are valid there (checked by
``test_corpus_calls.test_fd_step_insensitive``).
"""

import dataclasses
import math
from collections.abc import Callable

import numba
import numpy as np

import srcgrad

from . import corpus_calls_lib as lib
from .corpus_calls_lib import min_max, newton_sqrt, polar, rbf, softmax_weights
from .oracles import Case
from .oracles_np import fd_grad_array

# same names as in corpus_calls_lib, different values (lib: 0.5 and [0.25, -0.5, 0.75])
SCALE = 3.0
OFFSETS = np.array([1.0, 2.0, -1.5])


# ============================================================ user rules (guarded)

def _stand_in_custom_vjp(fn):
    """Stand-in for ``srcgrad.custom_vjp`` while it does not exist: the function itself,
    with a ``defvjp`` that records the rule (the programs still run in plain Python)."""
    def defvjp(rule):
        fn.vjp_rule = rule
        return rule

    fn.defvjp = defvjp
    fn.vjp_rule = None
    return fn


def _stand_in_non_differentiable(fn):
    return fn


HAVE_CUSTOM_VJP = hasattr(srcgrad, "custom_vjp")
HAVE_NON_DIFFERENTIABLE = hasattr(srcgrad, "non_differentiable")
custom_vjp = srcgrad.custom_vjp if HAVE_CUSTOM_VJP else _stand_in_custom_vjp
non_differentiable = srcgrad.non_differentiable if HAVE_NON_DIFFERENTIABLE else _stand_in_non_differentiable


@custom_vjp
def logsumexp_c(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


@logsumexp_c.defvjp
def _logsumexp_c_vjp(g, ans, x):
    # softmax from the output itself: no route through max (and its ties), no overflow
    return g * np.exp(x - ans)


@custom_vjp
def softplus_c(v):
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


@softplus_c.defvjp
def _softplus_c_vjp(g, ans, v):
    # the logistic sigmoid, evaluated without overflow on either side
    if v >= 0.0:
        return g / (1.0 + math.exp(-v))
    e = math.exp(v)
    return g * e / (1.0 + e)


@custom_vjp
def poly_c(c, t):
    p = 0.0
    for k in range(len(c) - 1, -1, -1):
        p = p * t + c[k]
    return p


@poly_c.defvjp
def _poly_c_vjp(g, ans, c, t):
    powers = np.empty_like(c)
    q = 1.0
    for k in range(len(c)):
        powers[k] = q
        q = q * t
    return g * powers, None  # no gradient for t: the programs never differentiate it


@custom_vjp
def softmax_c(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


@softmax_c.defvjp
def _softmax_c_vjp(g, ans, x):
    return ans * (g - np.dot(g, ans))


@non_differentiable
def count_positive(x):
    n = 0
    for i in range(len(x)):
        if x[i] > 0.0:
            n += 1
    return float(n)


@non_differentiable
def rank_weights(x):
    order = np.argsort(x)
    r = np.empty(len(x))
    for k in range(len(x)):
        r[order[k]] = k + 1.0
    return r / len(x)


#: names of the functions with user rules (the feature checks look for calls to them)
CUSTOM_VJP_NAMES = frozenset({"logsumexp_c", "softplus_c", "poly_c", "softmax_c"})
NON_DIFFERENTIABLE_NAMES = frozenset({"count_positive", "rank_weights"})
#: each custom_vjp function and its rule, for checking the rules against FD without srcgrad
CUSTOM_RULES = {
    "logsumexp_c": (logsumexp_c, _logsumexp_c_vjp),
    "softplus_c": (softplus_c, _softplus_c_vjp),
    "poly_c": (poly_c, _poly_c_vjp),
    "softmax_c": (softmax_c, _softmax_c_vjp),
}


# ============================================================ same-module helpers

def cube_minus(x):
    return x ** 3 - 2.0 * x


def damped(acc, x, i):
    return math.sin(acc + x) * 0.5 ** i + x / (i + 1.0)


def halve(v):
    return 0.5 * v + 0.01 * v * v


def over_limit(v, limit):
    return abs(v) - limit


def ramp(v, slope):
    return slope * v + 0.1 * v * v


def exp_series(x, n_max=40, rtol=1e-17):
    term = 1.0
    s = 1.0
    for k in range(1, n_max):
        term = term * x / k
        s = s + term
        if abs(term) < rtol * abs(s):
            break
    return s


def piecewise(v):
    if v < -1.0:
        return -2.0 * v - 1.0 + 0.1 * (v + 1.0) ** 2
    if v > 1.0:
        return v * v
    return 1.0 + 0.5 * v ** 3


def inner_h(x):
    # lib.inner_h is a different function with the same name
    return x * x - SCALE


def middle_local(x):
    return inner_h(x) * math.cos(x)


def outer_h(x, y):
    return middle_local(x + y) + lib.middle_h(x * y)


def geometric_sum(v, ratio=0.5, n=4):
    s = 0.0
    p = 1.0
    for k in range(n):
        s = s + p * v
        p = p * ratio
    return s


def sum_sq_s(a, b):
    s = a * a
    t = b * b
    s = s + t
    return s * 0.5


def diff_ratio(x, y):
    x = x * 2.0  # rebinding a parameter must not touch the caller's x
    return (x - y) / (1.0 + y * y)


def mixed_math_np(v, w):
    a = math.sin(v) * np.exp(-w)
    b = np.tanh(v * w) + math.hypot(v, w)
    return a + b * math.log1p(w * w)


@numba.njit
def njit_logistic(v):
    return 1.0 / (1.0 + math.exp(-v))


@numba.njit
def njit_sq_dist(a, b):
    d = a - b
    return np.sum(d * d)


def split_parts(v):
    return v * v, math.sin(v)


def sorted_pair(a, b):
    if a < b:
        return a, b
    return b, a


def pair_energy(pair):
    a, b = pair
    return a * a * b + math.cos(a - b)


def sqrt_log(v):
    return math.sqrt(v) * math.log(v)


def normalized(v):
    return v / math.sqrt(np.sum(v * v))


def dot_tanh(a, b):
    return np.sum(np.tanh(a) * b)


def rnn_cell(W, h, xt):
    return np.tanh(W @ h + xt)


def damp(v, factor):
    return factor * v + 0.05 * np.sin(v)


def rms(v):
    return math.sqrt(np.mean(v * v))


def pos_part(v):
    return v * v + math.exp(-v)


def neg_part(v):
    return math.sin(v) * v


def relax_step(y, x, omega):
    for i in range(1, len(y) - 1):
        y[i] = (1.0 - omega) * y[i] + omega * 0.5 * (y[i - 1] + y[i + 1]) + 0.1 * x[i]


def write_and_measure(out, i, v):
    out[i] = v
    return v * out[i - 1]


def fill_and_total(out, x, w):
    t = 0.0
    for i in range(len(x)):
        out[i] = w * x[i] * x[i]
        t = t + out[i]
    return t


def scale_in_place(v, factor):
    for i in range(len(v)):
        v[i] = v[i] * factor + 0.1 * v[i] * v[i]


def mean_var(v):
    m = np.mean(v)
    d = v - m
    return m, np.mean(d * d)


def bilinear(pair, A):
    u, v = pair
    return u @ A @ v


def cumulative_products(v):
    out = np.empty_like(v)
    p = 1.0
    for i in range(len(v)):
        p = p * v[i]
        out[i] = p
    return out


def first_above(v, threshold):
    for i in range(len(v)):
        if v[i] > threshold:
            return i
    return len(v) - 1


def blend(a, b, *, t=0.3, power=2.0):
    return (1.0 - t) * a + t * b ** power


def mlp_forward(W1, W2, x):
    h = lib.layer(W1, x, OFFSETS)  # this module's OFFSETS, passed explicitly
    return lib.layer(W2, h, 0.1 * x)


def partial_sum(v, upto):
    s = 0.0
    for i in range(upto + 1):
        s = s + v[i] * (i + 1.0)
    return s


def sq_plus_sin(v):
    return v * v + np.sin(v)


def cross_entropy(logits, target):
    p = softmax_c(logits)
    return -np.dot(target, np.log(p))


# ============================================================ programs: scalars

def call_once_scalar(x):
    y = cube_minus(x)
    return y * math.exp(-x)


def call_many_scalar(x, y):
    return cube_minus(x) + cube_minus(x * y) * cube_minus(0.5) - cube_minus(cube_minus(y))


def helpers_in_for_scalar(x, n):
    acc = 0.0
    for i in range(n):
        acc = acc + damped(acc, x, i)
    return acc * x


def helpers_in_while_scalar(x):
    y = 3.0 * x
    k = 0
    while over_limit(y, 0.1) > 0.0:
        y = halve(y)
        k += 1
    return y * (k + 1.0) + x


def helpers_in_branches_scalar(x, y):
    if x > y:
        z = ramp(x - y, 2.0)
    elif x > 0.0:
        z = ramp(y, x) - cube_minus(x)
    else:
        z = cube_minus(ramp(x, y))
    return z + ramp(z, 0.5)


def helper_loop_break_scalar(x):
    return exp_series(x) * exp_series(-0.5 * x, 60) - exp_series(x * x, rtol=1e-15)


def helper_early_return_scalar(x):
    return piecewise(x) + piecewise(2.0 * x - 1.5) * piecewise(-x)


def nested_calls_scalar(x, y):
    return outer_h(x, y) * outer_h(y, 0.5)


def keywords_scalar(x, y):
    a = lib.poly(x, c2=y)
    b = lib.poly(y, 0.1, c1=x)
    c = lib.poly(x)
    d = lib.poly(c1=y, x=x, c0=-0.5)
    return a * b + c - d * d


def defaults_top(x, scale=2.0, n=3):
    return geometric_sum(x * scale, n=n) + geometric_sum(x, scale / 4.0) * x


def shadow_locals_scalar(x, y):
    s = x + 1.0
    t = y - 2.0
    sum_sq_s_s = s * t  # the name an inliner might pick for sum_sq_s's local s
    u = sum_sq_s(t, s)  # the callee's s and t must not clobber the caller's
    return s * u + t * sum_sq_s(s, y) + sum_sq_s_s


def swapped_params_scalar(x, y):
    a = diff_ratio(y, x)
    b = diff_ratio(y=y, x=x + y)
    c = diff_ratio(x, y)
    return a * x + b * y + c * x


def math_np_scalar(x):
    return mixed_math_np(x, 0.5 * x + 1.0) + mixed_math_np(1.0, x)


def njit_scalar(x, y):
    return njit_logistic(x * y) * lib.soft_sat(x - y) + njit_logistic(y)


def tuple_return_scalar(x, y):
    r, th = polar(x, y)
    u, v = split_parts(r)
    lo, hi = sorted_pair(x, y)
    return u * th + v + hi - 2.0 * lo


def tuple_arg_scalar(x, y):
    pair = (x, y)
    e1 = pair_energy(pair)
    e2 = pair_energy((y, 2.0 * x))
    return e1 * e2


def lazy_calls_scalar(x):
    # sqrt_log needs a positive argument: it must only run where Python runs it
    y = sqrt_log(x) if x > 0.0 else -x * x
    if x > -0.5 and sqrt_log(x + 0.5) > 0.1:
        y = y + x
    return y


def constants_clash_scalar(x):
    a = SCALE * x + OFFSETS[1]  # this module: 3.0 x + 2.0
    b = lib.scaled_sq(x) + lib.shift(x)  # lib: 0.5 x^2, x + 0.5 (default from lib.SCALE)
    c = lib.shift(x, by=SCALE)  # the caller's SCALE, passed explicitly
    return a * b + c * OFFSETS[2]


# ============================================================ programs: arrays

def call_once_array(x, w):
    u = normalized(x)
    return np.sum(u * w) + np.sum(u * u * x)


def call_many_array(x, y):
    return dot_tanh(x, y) + dot_tanh(y, y) * dot_tanh(2.0 * x, x) - dot_tanh(x[::-1], y)


def rnn_helper_loop(W, x):
    h = np.zeros(W.shape[0])
    s = 0.0
    for t in range(x.shape[0]):
        h = rnn_cell(W, h, x[t])
        s = s + np.sum(h * h)
    return s


def helpers_in_while_array(x):
    y = x * 2.0
    k = 0
    while rms(y) > 0.3 and k < 50:
        y = damp(y, 0.7)
        k += 1
    return np.sum(y * x) + k


def elementwise_branch_array(x, w):
    s = 0.0
    for i in range(len(x)):
        if x[i] > 0.0:
            s = s + w[i] * pos_part(x[i])
        else:
            s = s - neg_part(x[i] * w[i])
    return s


def inplace_helpers_array(x, w):
    y = np.zeros_like(x)
    lib.fill_squares(y, x)
    lib.accumulate(y, w)  # lib's parameter x is the caller's w, its w the default 0.5
    lib.accumulate(y, x, w=-0.25)
    return np.sum(y * w) + y[0] * y[-1]


def inplace_in_loop_array(x):
    y = x.copy()
    e = 0.0
    for sweep in range(3):
        relax_step(y, x, 0.6)
        e = e + write_and_measure(y, sweep + 1, y[sweep + 1] * 0.9)
    return np.sum(y * y * x) + e


def inplace_assigned_array(x):
    y = np.zeros(len(x))
    t1 = fill_and_total(y, x, 0.5)  # writes into y and returns a value
    s1 = np.sum(y * x)
    t2 = fill_and_total(y, np.sin(x), 2.0)  # overwrites what the first call wrote
    return t1 * s1 + t2 * y[0] + np.sum(y * y)


def inplace_into_argument(x, w):
    before = np.sum(x * w)
    scale_in_place(x, 1.5)  # writes into the differentiated function's own argument
    return before + np.sum(x * x * w)


def tuple_return_array(x, w):
    lo, hi = min_max(x)
    m, var = mean_var(x * w)
    return (hi - lo) * m + var / (1.0 + hi * hi)


def tuple_arg_array(x, y, A):
    pair = (x, np.tanh(y))
    return bilinear(pair, A) + bilinear((y, x), A.T) * 0.5


def njit_array(x, c):
    return rbf(x, c) + njit_sq_dist(x, 0.5 * c) * lib.soft_sat(np.sum(x))


def stop_gradient_array(x, s):
    w = softmax_weights(srcgrad.stop_gradient(x * s))
    return np.sum(w * x) * s + np.sum(w * w)


def helper_builds_array(x):
    c = cumulative_products(x)
    d = cumulative_products(c[::-1] * 0.5 + 1.0)
    return np.sum(c * d) + cumulative_products(x * 0.5)[-1] + cumulative_products(d).sum()


def newton_loop_array(a, w):
    s = 0.0
    for i in range(len(a)):
        s = s + w[i] * newton_sqrt(a[i])
    return s + newton_sqrt(np.sum(a), tol=1e-12)


def first_index_array(x, w):
    s = 0.0
    for k in range(3):
        i = first_above(x, 0.3 * k)
        s = s + x[i] * w[k]
    j = first_above(w, 10.0)  # never above: falls through to the last index
    return s + x[j] * w[j] + np.sum(x[:j] * w[:j])


def keywords_array(x, w):
    p = lib.softmax_weights(x, temperature=0.5)
    q = lib.softmax_weights(x)
    r = softmax_weights(w, 2.0)
    return np.dot(p, w) + np.dot(q, r) * np.sum(x * r)


def keyword_only_args(x, y):
    return np.sum(blend(x, y, t=0.7)) + np.sum(blend(y, x)) * np.sum(blend(x, y, power=3.0, t=0.1))


def defaults_array_top(x, w, temperature=1.0, shift_by=0.0):
    p = softmax_weights(x + shift_by, temperature=temperature)
    return np.dot(p, w) + shift_by * temperature


def mlp_loss(W1, W2, x, y):
    d = mlp_forward(W1, W2, x) - y
    return np.dot(d, d) + 0.01 * (np.sum(W1 * W1) + np.sum(W2 * W2))


def constants_clash_array(x):
    a = lib.affine3(x)  # lib: 0.5 x + [0.25, -0.5, 0.75]
    b = SCALE * x + OFFSETS  # here: 3.0 x + [1.0, 2.0, -1.5]
    if np.sum(x) > 0.0:
        c = lib.affine3(b)
    else:
        c = b * OFFSETS
    return np.sum(a * b) + np.sum(c * c)


def loop_var_shadow_array(x):
    s = 0.0
    for i in range(len(x)):
        s = s + partial_sum(x, i) * x[i]  # partial_sum has its own loop over i
    return s + i * x[0]


def same_helper_two_types(x):
    a = sq_plus_sin(x)
    b = sq_plus_sin(x[0])
    return np.sum(a) * b + sq_plus_sin(np.sum(x))


# ============================================================ programs: user derivative rules

def custom_rule_logsumexp(x, w, shift):
    z = x * w + shift
    return logsumexp_c(z) - z[1] + 0.1 * logsumexp_c(2.0 * x)


def custom_rule_two_args(c, t):
    a = poly_c(c, t)
    b = poly_c(c * c, 0.5 * t)
    return a * b + np.sum(c)


def custom_rule_in_loop(x, a):
    y = x
    s = 0.0
    for k in range(5):
        y = softplus_c(a * y - 1.0) - 0.5 * y
        s = s + y * y
    return s


def custom_rule_via_helper(W, x, target):
    return cross_entropy(W @ x, target) + 0.5 * cross_entropy(x, target)


def custom_non_differentiable(x, w):
    n = count_positive(x - 0.2)
    return n * np.dot(x, w) + np.sum(x * x) / (1.0 + n)


def custom_non_differentiable_array(x):
    r = rank_weights(x)
    return np.sum(r * x * x) + np.dot(r, np.sin(x))


# ============================================================ cases

#: every feature a case may list. Checked against the source by test_corpus_calls:
#:   loop, while, branch, break, early-return, keywords, defaults, kw-only, tuple-return,
#:   tuple-arg, nested, other-module, njit, inplace, stop-gradient, custom-rule,
#:   non-differentiable, wrt-name, scalar, array
#: Listed by hand (not checkable from the AST):
#:   shadow       a callee's local or parameter has the name of a caller variable
#:   name-clash   a callee reads a global whose name means something else in the caller
#:   lazy         a call in the untaken side of ``if``-expression / ``and`` must not run
#:   math-np      a helper mixes math.* and np.*
#:   inplace-arg  a helper writes into the differentiated function's own argument
#:   int-return   a helper returns an int (an index)
#:   stable-rule  a custom rule equivalent to, and more stable than, differentiating the body
#:   many-calls   the same helper called several times with different arguments
#:   two-types    the same helper called with a float and with an array
FEATURES = frozenset({
    "loop", "while", "branch", "break", "early-return", "keywords", "defaults", "kw-only",
    "tuple-return", "tuple-arg", "nested", "other-module", "njit", "inplace", "stop-gradient",
    "custom-rule", "non-differentiable", "wrt-name", "scalar", "array",
    "shadow", "name-clash", "lazy", "math-np", "inplace-arg", "int-return", "stable-rule",
    "many-calls", "two-types",
})


@dataclasses.dataclass(frozen=True, repr=False)
class CallCase(Case):
    """A corpus entry (``Case``: name, fn, points, wrt) with its ``features``, and, for
    programs whose gradient is not the derivative of their value (``stop_gradient``),
    ``oracle(*args)``: the expected gradient as a tuple, used instead of finite
    differences."""

    features: tuple[str, ...] = ()
    oracle: Callable[..., tuple] | None = None

    @property
    def needs(self) -> str | None:
        """The srcgrad API this case needs that does not exist yet (the tests skip it)."""
        if "non-differentiable" in self.features and not HAVE_NON_DIFFERENTIABLE:
            return "srcgrad.non_differentiable"
        if "custom-rule" in self.features and "non-differentiable" not in self.features \
                and not HAVE_CUSTOM_VJP:
            return "srcgrad.custom_vjp"
        return None


def _u(seed, shape, lo=-1.0, hi=1.0):
    """A deterministic uniform float64 array."""
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def _away(seed, shape, gap, lo=-1.0, hi=1.0, center=0.0):
    """A uniform array whose elements are all more than ``gap`` away from ``center``."""
    a = _u(seed, shape, lo, hi) - center
    return center + np.where(np.abs(a) < gap, np.sign(a + 1e-300) * (gap + np.abs(a)), a)


def _distinct(seed, n, lo=-1.0, hi=1.0):
    """``n`` values pairwise at least ``(hi - lo) / (2 n)`` apart, in random order."""
    rng = np.random.default_rng(seed)
    base = lo + (np.arange(n) + 0.5) * (hi - lo) / n
    jitter = rng.uniform(-0.25, 0.25, size=n) * (hi - lo) / n
    return rng.permutation(base + jitter)


def _stop_gradient_array_frozen(x, s, w):
    """stop_gradient_array with the stopped value ``w`` given: its gradient in (x, s) at
    ``w = softmax_weights(x * s)`` is what srcgrad must return."""
    return np.sum(w * x) * s + np.sum(w * w)


def _stop_gradient_array_grad(x, s):
    w = softmax_weights(x * s)
    return (w * s, float(np.sum(w * x)))


#: (program, frozen variant, extra-argument maker) for the oracle sanity test
FROZEN = {"stop_gradient_array": (_stop_gradient_array_frozen, lambda x, s: (softmax_weights(x * s),))}


def _C(name, fn, points, wrt=0, features=(), oracle=None):
    return CallCase(name, fn, points, wrt, tuple(features), oracle)


CASES = [
    # ---------------------------------------------------------------- scalars
    _C("call_once_scalar", call_once_scalar, [(0.7,), (-1.3,), (2.2,)], features=("scalar",)),
    _C("call_many_scalar", call_many_scalar, [(0.7, -0.4), (-1.2, 0.9)], wrt=(0, 1),
       features=("scalar", "many-calls")),
    _C("helpers_in_for_scalar", helpers_in_for_scalar, [(0.7, 5), (-1.3, 3)],
       features=("scalar", "loop", "many-calls")),
    _C("helpers_in_while_scalar", helpers_in_while_scalar, [(2.0,), (-0.7,), (0.5,)],
       features=("scalar", "loop", "while")),
    _C("helpers_in_branches_scalar", helpers_in_branches_scalar,
       [(1.5, 0.2), (0.6, 1.1), (-0.8, 0.4)], wrt=(0, 1),
       features=("scalar", "branch", "many-calls")),
    _C("helper_loop_break_scalar", helper_loop_break_scalar, [(1.3,), (-0.6,), (2.1,)],
       features=("scalar", "loop", "branch", "break", "defaults", "keywords", "many-calls")),
    _C("helper_early_return_scalar", helper_early_return_scalar, [(0.3,), (1.4,), (-0.6,)],
       features=("scalar", "branch", "early-return", "many-calls")),
    _C("nested_calls_scalar", nested_calls_scalar, [(0.4, 0.9), (-0.7, 0.3)], wrt=(0, 1),
       features=("scalar", "nested", "other-module", "name-clash", "loop", "many-calls")),
    _C("keywords_scalar", keywords_scalar, [(0.8, -0.3), (-1.1, 0.6)], wrt=(0, 1),
       features=("scalar", "keywords", "defaults", "other-module", "many-calls")),
    _C("defaults_top", defaults_top, [(0.7,), (0.7, 1.5), (-0.4, 0.5, 5)], wrt="x",
       features=("scalar", "defaults", "keywords", "wrt-name", "loop", "many-calls")),
    _C("shadow_locals_scalar", shadow_locals_scalar, [(0.6, 1.3), (-1.4, 0.2)], wrt=(0, 1),
       features=("scalar", "shadow", "many-calls")),
    _C("swapped_params_scalar", swapped_params_scalar, [(0.6, 1.3), (-0.9, 0.4)], wrt=("x", "y"),
       features=("scalar", "shadow", "keywords", "wrt-name", "many-calls")),
    _C("math_np_scalar", math_np_scalar, [(0.6,), (-0.8,)],
       features=("scalar", "math-np", "many-calls")),
    _C("njit_scalar", njit_scalar, [(0.6, -0.4), (-1.1, 0.7)], wrt=(0, 1),
       features=("scalar", "njit", "other-module")),
    _C("tuple_return_scalar", tuple_return_scalar, [(0.6, 1.1), (-0.8, 0.3)], wrt=(0, 1),
       features=("scalar", "tuple-return", "other-module", "branch", "early-return")),
    _C("tuple_arg_scalar", tuple_arg_scalar, [(0.6, 1.1), (-0.8, 0.3)], wrt=(0, 1),
       features=("scalar", "tuple-arg", "many-calls")),
    _C("lazy_calls_scalar", lazy_calls_scalar, [(1.7,), (-0.8,), (0.4,)],
       features=("scalar", "lazy", "branch")),
    _C("constants_clash_scalar", constants_clash_scalar, [(0.7,), (-1.2,)],
       features=("scalar", "name-clash", "other-module", "defaults", "keywords", "many-calls")),
    # ---------------------------------------------------------------- arrays
    _C("call_once_array", call_once_array, [(_u(1, 5), _u(2, 5)), (_u(3, (2, 3)), _u(4, (2, 3)))],
       wrt=(0, 1), features=("array",)),
    _C("call_many_array", call_many_array, [(_u(5, 6), _u(6, 6)), (_u(57, 3, -2.0, 2.0), _u(58, 3))], wrt=(0, 1),
       features=("array", "many-calls")),
    _C("rnn_helper_loop", rnn_helper_loop,
       [(_u(7, (3, 3), -0.8, 0.8), _u(8, (4, 3))), (_u(59, (2, 2), -0.8, 0.8), _u(60, (6, 2)))],
       wrt=(0, 1), features=("array", "loop", "shadow")),
    _C("helpers_in_while_array", helpers_in_while_array, [(_u(9, 5),), (np.array([0.05, -0.1, 0.08]),)],
       features=("array", "loop", "while", "math-np")),
    _C("elementwise_branch_array", elementwise_branch_array,
       [(_away(10, 8, 0.1), _u(11, 8, 0.5, 1.5)), (_away(61, 5, 0.1, -2.0, 2.0), _u(62, 5, 0.5, 1.5))],
       wrt=(0, 1), features=("array", "loop", "branch", "math-np")),
    _C("inplace_helpers_array", inplace_helpers_array, [(_u(12, 6), _u(13, 6)), (_u(63, 3), _u(64, 3))], wrt=(0, 1),
       features=("array", "inplace", "loop", "other-module", "defaults", "keywords", "shadow")),
    _C("inplace_in_loop_array", inplace_in_loop_array, [(_u(14, 7),), (_u(65, 5, 0.2, 1.5),)],
       features=("array", "inplace", "loop")),
    _C("inplace_assigned_array", inplace_assigned_array, [(_u(56, 6),), (_u(66, 3, -2.0, 2.0),)],
       features=("array", "inplace", "loop", "many-calls")),
    _C("inplace_into_argument", inplace_into_argument,
       [(_u(15, 5), _u(16, 5)), (_u(67, 8, -2.0, 2.0), _u(68, 8))], wrt=(0, 1),
       features=("array", "inplace", "inplace-arg", "loop")),
    _C("tuple_return_array", tuple_return_array,
       [(_distinct(17, 6), _u(18, 6)), (_distinct(69, 4, -3.0, 1.0), _u(70, 4))], wrt=(0, 1),
       features=("array", "tuple-return", "other-module")),
    _C("tuple_arg_array", tuple_arg_array,
       [(_u(19, 3), _u(20, 3), _u(21, (3, 3))), (_u(71, 5), _u(72, 5), _u(73, (5, 5)))], wrt=(0, 1, 2),
       features=("array", "tuple-arg")),
    _C("njit_array", njit_array, [(_u(22, 4, -0.5, 0.5), _u(23, 4, -0.5, 0.5)), (_u(74, 2), _u(75, 2))], wrt=(0, 1),
       features=("array", "njit", "other-module")),
    _C("stop_gradient_array", stop_gradient_array, [(_distinct(24, 5), 1.3), (_distinct(25, 4), -0.6)],
       wrt=(0, 1), features=("array", "stop-gradient", "other-module", "defaults"),
       oracle=_stop_gradient_array_grad),
    _C("helper_builds_array", helper_builds_array, [(_u(26, 5, 0.5, 1.5),), (_u(76, 7, -1.2, 1.2),)],
       features=("array", "loop", "many-calls")),
    _C("newton_loop_array", newton_loop_array,
       [(_u(27, 5, 0.3, 4.0), _u(28, 5)), (np.array([0.25, 9.0, 0.6, 25.0]), _u(77, 4))], wrt=(0, 1),
       features=("array", "loop", "while", "branch", "other-module", "defaults", "keywords")),
    _C("first_index_array", first_index_array,
       [(np.array([0.1, -0.2, 0.45, 0.2, 0.8, -0.5]), _u(29, 6)),
        (np.array([0.5, 0.1, 0.7]), _u(30, 3))],
       wrt=(0, 1), features=("array", "loop", "branch", "early-return", "int-return")),
    _C("keywords_array", keywords_array,
       [(_distinct(31, 5), _distinct(32, 5)), (_distinct(78, 3, -2.0, 2.0), _distinct(79, 3))], wrt=(0, 1),
       features=("array", "keywords", "defaults", "other-module")),
    _C("keyword_only_args", keyword_only_args,
       [(_u(33, 4, 0.2, 1.5), _u(34, 4, 0.2, 1.5)), (_u(80, 6, 0.2, 1.5), _u(81, 6, 0.2, 1.5))], wrt=(0, 1),
       features=("array", "keywords", "defaults", "kw-only", "many-calls")),
    _C("defaults_array_top", defaults_array_top,
       [(_distinct(35, 5), _u(36, 5), 0.7), (_distinct(37, 4), _u(38, 4), 1.3, 0.2)],
       wrt=("x", "temperature"),
       features=("array", "defaults", "keywords", "wrt-name", "other-module")),
    _C("mlp_loss", mlp_loss,
       [(_u(39, (3, 3)), _u(40, (3, 3)), _u(41, 3), _u(42, 3)),
        (_u(82, (3, 3), -2.0, 2.0), _u(83, (3, 3)), _u(84, 3), _u(85, 3))], wrt=(0, 1, 2),
       features=("array", "nested", "other-module", "name-clash")),
    _C("constants_clash_array", constants_clash_array,
       [(np.array([0.4, -0.3, 0.7]),), (np.array([-0.6, 0.2, -0.1]),)],
       features=("array", "name-clash", "other-module", "branch")),
    _C("loop_var_shadow_array", loop_var_shadow_array, [(_u(43, 5),), (_u(86, 8, -2.0, 2.0),)],
       features=("array", "loop", "shadow")),
    _C("same_helper_two_types", same_helper_two_types, [(_u(44, 4),), (_u(87, 7, -2.0, 2.0),)],
       features=("array", "two-types", "many-calls")),
    # ---------------------------------------------------------------- user derivative rules
    _C("custom_rule_logsumexp", custom_rule_logsumexp,
       [(_u(45, 5, -2.0, 2.0), _u(46, 5, 0.5, 1.5), 0.0),
        (_u(47, 4, -2.0, 2.0), _u(48, 4, 0.5, 1.5), 750.0)],  # exp(z) overflows; the rule does not
       wrt=(0, 1), features=("array", "custom-rule", "stable-rule")),
    _C("custom_rule_two_args", custom_rule_two_args, [(_u(49, 4), 0.8), (_u(50, 3), -1.3)],
       features=("array", "custom-rule")),
    _C("custom_rule_in_loop", custom_rule_in_loop, [(0.7, 1.3), (-0.4, 2.1)], wrt=(0, 1),
       features=("scalar", "custom-rule", "loop", "stable-rule")),
    _C("custom_rule_via_helper", custom_rule_via_helper,
       [(_u(51, (3, 3)), _u(52, 3), np.array([0.1, 0.6, 0.3])),
        (_u(88, (5, 5), -2.0, 2.0), _u(89, 5), np.array([0.0, 0.0, 1.0, 0.0, 0.0]))], wrt=(0, 1),
       features=("array", "custom-rule", "nested")),
    _C("custom_non_differentiable", custom_non_differentiable,
       [(_away(53, 6, 0.1, center=0.2), _u(54, 6)), (_away(90, 4, 0.1, 0.0, 2.0, center=0.2), _u(91, 4))],
       wrt=(0, 1), features=("array", "custom-rule", "non-differentiable")),
    _C("custom_non_differentiable_array", custom_non_differentiable_array,
       [(_distinct(55, 6),), (_distinct(92, 9, -3.0, 3.0),)],
       features=("array", "custom-rule", "non-differentiable")),
]

CASES_BY_NAME = {c.name: c for c in CASES}


def fd_oracle_for_frozen(name: str, i: int) -> tuple:
    """Finite differences of a stop_gradient program's frozen variant (no srcgrad)."""
    case = CASES_BY_NAME[name]
    frozen, extra = FROZEN[name]
    args = case.points[i]
    fixed = extra(*args)

    def f(*a):
        return frozen(*a, *fixed)

    return fd_grad_array(f, args, case.wrt)


__all__ = ["CASES", "CASES_BY_NAME", "CUSTOM_RULES", "CUSTOM_VJP_NAMES", "FEATURES", "FROZEN",
           "HAVE_CUSTOM_VJP", "HAVE_NON_DIFFERENTIABLE", "NON_DIFFERENTIABLE_NAMES", "CallCase",
           "fd_oracle_for_frozen"]
